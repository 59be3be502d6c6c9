"""Pure science of the ``mxt-detect`` brick.

Two-stage point-source detection in DET coordinates (PSF fits of a binned image, then Cash
maximum likelihood of all sources together) and the RA/Dec source list.

Modules: :mod:`.psf_model` (the PSF at sub-pixel positions), :mod:`.cash` (the Cash
statistic and its fits), :mod:`.histogram_fit` (stage 1), :mod:`.likelihood` (stage 2),
:mod:`.sources` (both stages in one call) and :mod:`.srclist` (sky positions, FITS table).
"""

from pipeline_bricks.mxt.detect.histogram_fit import Candidate, HistogramResult, histogram_fit
from pipeline_bricks.mxt.detect.likelihood import (
    DELTA_C_90,
    MlResult,
    MlSource,
    detection_likelihood,
    ml_fit,
)
from pipeline_bricks.mxt.detect.psf_model import PsfModel
from pipeline_bricks.mxt.detect.sources import (
    Detection,
    DetectParams,
    Source,
    detect,
    detect_sources,
)
from pipeline_bricks.mxt.detect.srclist import (
    SkySource,
    det_pixel_arcsec,
    exposure_attitude,
    sky_sources,
    srclist_hdus,
)

__all__ = [
    "DELTA_C_90",
    "Candidate",
    "DetectParams",
    "Detection",
    "HistogramResult",
    "MlResult",
    "MlSource",
    "PsfModel",
    "SkySource",
    "Source",
    "det_pixel_arcsec",
    "detect",
    "detect_sources",
    "detection_likelihood",
    "exposure_attitude",
    "histogram_fit",
    "ml_fit",
    "sky_sources",
    "srclist_hdus",
]
