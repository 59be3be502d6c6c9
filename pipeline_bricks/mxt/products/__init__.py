"""Science of the ``mxt-products`` brick: image, exposure map, spectra, light curves, previews.

Pure numpy functions on screened events (docs/event_formats.md) and calibration read by
``pipeline_bricks.mxt.caldata``; the brick class reads the files and writes the products.

* :mod:`.image`: counts image and exposure map in the SKY frame;
* :mod:`.regions`: source circle, background annulus, BACKSCAL;
* :mod:`.spectrum`: PHA counts, PSF enclosed fraction, region ARF, OGIP PHA and ARF HDUs;
* :mod:`.lightcurve`: constant-S/N bins and Bayesian blocks; :mod:`.gaps`: gaps and
  their causes; :mod:`.lightcurve_file`: the OGIP rate table;
* :mod:`.previews`: PNG previews (not imported here: it loads matplotlib).
"""

from pipeline_bricks.mxt.products.gaps import CAUSES, Gap, find_gaps
from pipeline_bricks.mxt.products.image import (
    attitude_steps,
    exposure_map,
    exposure_maps,
    image_header,
    sky_image,
)
from pipeline_bricks.mxt.products.lightcurve import (
    Background,
    LightCurveBins,
    bayesian_block_bins,
    constant_snr_bins,
)
from pipeline_bricks.mxt.products.lightcurve_file import write_lightcurve_hdus
from pipeline_bricks.mxt.products.regions import Region, backscal, region_area_ratio
from pipeline_bricks.mxt.products.spectrum import (
    arf_for_region,
    pha_spectrum,
    psf_enclosed_fraction,
    write_arf_hdus,
    write_pha_hdus,
)

__all__ = [
    "CAUSES",
    "Background",
    "Gap",
    "LightCurveBins",
    "Region",
    "arf_for_region",
    "attitude_steps",
    "backscal",
    "bayesian_block_bins",
    "constant_snr_bins",
    "exposure_map",
    "exposure_maps",
    "find_gaps",
    "image_header",
    "pha_spectrum",
    "psf_enclosed_fraction",
    "region_area_ratio",
    "sky_image",
    "write_arf_hdus",
    "write_lightcurve_hdus",
    "write_pha_hdus",
]
