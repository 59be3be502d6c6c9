"""The parameters of the MXT bricks: the one place they are declared.

The brick classes and :data:`pipeline_bricks.registry.CATALOGUE` both take them from here;
``docs/pipeline_bricks.md`` shows them (a test keeps its table in step). Standard library
only, so that ``pipeline-bricks list --parameters`` stays light.
"""

from __future__ import annotations

from pipeline_bricks.parameters import Interval, Parameter, merge_parameters

__all__ = ["CALIBRATE", "COORDINATES", "DETECT", "PIPELINE", "PRODUCTS", "SCREEN"]

_AT_LEAST_0 = Interval(0.0)
_ARCMIN_RADIUS = Interval(0.0, 60.0, low_open=True)

CALIBRATE = (
    Parameter(
        "split_threshold_adu", "number", "adu", None,
        "split threshold of the patterns; default: the SPLTHR of the event list, else the "
        "EVTTHR onboard upload",
        allowed=Interval(0.0, 4096.0, low_open=True, high_open=True),
        default_text="SPLTHR or EVTTHR",
    ),
)  # fmt: skip

COORDINATES = (
    Parameter(
        "seed", "integer", "", 0,
        "seed of the in-pixel randomisation of DETX/DETY",
        allowed=_AT_LEAST_0,
    ),
)  # fmt: skip

SCREEN = (
    Parameter(
        "energy_band_kev", "number pair", "keV", (0.2, 10.0),
        "kept band, lo <= ENERGY < hi",
        allowed=_AT_LEAST_0, order="<",
    ),
    Parameter(
        "patterns", "integer pair", "", (0, 12),
        "kept PATTERN range, inclusive ([0, 4]: singles and doubles)",
        allowed=Interval(0, 12), order="<=",
    ),
    Parameter(
        "hot_pixel_probability", "number", "", 1e-7,
        "per-pixel false-alarm probability of the hot/flickering tests",
        allowed=Interval(1e-300, 0.5),
    ),
    Parameter(
        "min_gti_s", "number", "s", 1.0,
        "shortest good-time interval kept",
        allowed=_AT_LEAST_0,
    ),
)  # fmt: skip

DETECT = (
    Parameter(
        "detml_min", "number", "", 8.0,
        "smallest detection likelihood DETML kept",
        allowed=_AT_LEAST_0,
    ),
    Parameter(
        "max_sources", "integer", "", 10,
        "most sources fitted together",
        allowed=Interval(1, 50),
    ),
    Parameter(
        "systematic_r90_arcsec", "number", "arcsec", 0.0,
        "systematic 90 % radius added in quadrature to ERR_R90",
        allowed=_AT_LEAST_0,
    ),
)  # fmt: skip

PRODUCTS = (
    Parameter(
        "source_radius_arcmin", "number", "arcmin", 5.0,
        "source circle (half of the PSF); at most the background inner radius",
        allowed=_ARCMIN_RADIUS,
    ),
    Parameter(
        "background_radii_arcmin", "number pair", "arcmin", (10.0, 20.0),
        "inner and outer radii of the background annulus about the source",
        allowed=_ARCMIN_RADIUS, order="<",
    ),
    Parameter(
        "lightcurve_snr", "number", "", 5.0,
        "signal-to-noise of the constant-S/N bins",
        allowed=Interval(1.0, 100.0),
    ),
    Parameter(
        "bayesian_blocks_p0", "number", "", 0.05,
        "false-alarm probability of a Bayesian-block change point",
        allowed=Interval(1e-6, 0.5),
    ),
    Parameter(
        "vignetting_energy_kev", "number", "keV", None,
        "energy of the exposure map's vignetting; default: the mean ENERGY of the events",
        allowed=Interval(0.1, 15.0), default_text="mean ENERGY",
    ),
    Parameter(
        "source_radec", "number pair", "deg", None,
        "[ra, dec] of the source to extract, instead of the first row of the srclist input",
        allowed=(Interval(0.0, 360.0, high_open=True), Interval(-90.0, 90.0)),
        default_text="srclist row 1",
    ),
)  # fmt: skip

PIPELINE = merge_parameters(CALIBRATE, COORDINATES, SCREEN, DETECT, PRODUCTS)
