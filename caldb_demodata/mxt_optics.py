"""MXT optics and response: PSF, VIGNET, SPECRESP (ARF) and MATRIX + EBOUNDS (RMF).

The lobster-eye PSF is a central spot (2-D Gaussian, FWHM 4.2 arcmin), two cross arms
along the DETX and DETY axes (Gaussian across, exponential along) and a broad diffuse
halo; energy independent. Responses share one photon energy grid (0.2-10 keV in 10 eV
bins) and the RMF has 1024 PI channels of 10 eV (channel k: k*10 to (k+1)*10 eV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from caldb_demodata.common import CalibrationId, calibration_header, erf, primary_hdu
from caldb_demodata.mxt_detector import pixel_scale_arcsec
from caldb_demodata.ogip import FWHM_PER_SIGMA, arf_hdu, ebounds_hdu, matrix_hdu

__all__ = [
    "PSF_MODEL",
    "PsfModel",
    "arf_hdus",
    "effective_area",
    "encircled_energy",
    "pi_channel_edges",
    "psf_density",
    "psf_hdus",
    "resolution_fwhm",
    "response_energy_grid",
    "rmf_hdus",
    "vignet_hdus",
    "vignetting",
]

PSF_HALF_SIZE = 255  # PSF image of 511 x 511 DET pixels, centre at FITS pixel (256, 256)
BAND = "ENERG(0.2-10)keV"
N_CHANNELS = 1024
CHANNEL_KEV = 0.010
PAIR_ENERGY_KEV = 3.68e-3  # eV per electron-hole pair in Si, in keV
ENC_ELECTRONS = 4.9
FANO = 0.131
AREA_NORM_CM2 = 55.0
VIGNET_COEF = 0.10
VIGNET_EDEP = 0.02


@dataclass(frozen=True)
class PsfModel:
    """Parameters of the lobster-eye PSF (angles in arcmin, fractions of all photons).

    Attributes
    ----------
    core_fwhm : float
        FWHM of the central spot (2-D circular Gaussian) [arcmin].
    core_fraction : float
        Fraction of the photons in the central spot.
    arm_fraction : float
        Fraction in the two cross arms together (half in each).
    arm_length : float
        Exponential scale length of the arms along their axis [arcmin]; across, an arm is
        a Gaussian of the core's sigma.
    diffuse_fwhm : float
        FWHM of the diffuse halo (2-D circular Gaussian) [arcmin].
    diffuse_fraction : float
        Fraction in the diffuse halo.
    """

    core_fwhm: float = 4.2
    core_fraction: float = 0.30
    arm_fraction: float = 0.45
    arm_length: float = 8.0
    diffuse_fwhm: float = 30.0
    diffuse_fraction: float = 0.25


PSF_MODEL = PsfModel()


def psf_density(
    dx_arcmin: np.ndarray, dy_arcmin: np.ndarray, model: PsfModel = PSF_MODEL
) -> np.ndarray:
    """Surface density of the PSF.

    Parameters
    ----------
    dx_arcmin, dy_arcmin : numpy.ndarray
        Offsets from the source position along DETX and DETY [arcmin].
    model : PsfModel
        Parameters.

    Returns
    -------
    numpy.ndarray
        Fraction of the photons per square arcmin; integrates to 1 over the plane.
    """
    dx, dy = np.asarray(dx_arcmin, float), np.asarray(dy_arcmin, float)
    sc = model.core_fwhm / FWHM_PER_SIGMA
    sd = model.diffuse_fwhm / FWHM_PER_SIGMA
    r2 = dx**2 + dy**2
    core = np.exp(-r2 / (2 * sc**2)) / (2 * math.pi * sc**2)
    diffuse = np.exp(-r2 / (2 * sd**2)) / (2 * math.pi * sd**2)
    length = model.arm_length

    def arm(along: np.ndarray, across: np.ndarray) -> np.ndarray:
        profile = np.exp(-np.abs(along) / length) / (2 * length)
        return profile * np.exp(-(across**2) / (2 * sc**2)) / (math.sqrt(2 * math.pi) * sc)

    arms = 0.5 * (arm(dx, dy) + arm(dy, dx))
    return model.core_fraction * core + model.arm_fraction * arms + model.diffuse_fraction * diffuse


def encircled_energy(radius_arcmin: npt.ArrayLike, model: PsfModel = PSF_MODEL) -> np.ndarray:
    """Fraction of the photons within a circle centred on the source.

    Parameters
    ----------
    radius_arcmin : float or array_like
        Circle radii [arcmin].
    model : PsfModel
        Parameters.

    Returns
    -------
    numpy.ndarray
        Encircled-energy fraction (0..1) of the infinite-plane PSF.
    """
    sc = model.core_fwhm / FWHM_PER_SIGMA
    sd = model.diffuse_fwhm / FWHM_PER_SIGMA
    result = []
    for radius in np.atleast_1d(np.asarray(radius_arcmin, float)):
        core = 1.0 - math.exp(-(radius**2) / (2 * sc**2))
        diffuse = 1.0 - math.exp(-(radius**2) / (2 * sd**2))
        along = np.linspace(0.0, radius, 2001)
        half_chord = np.sqrt(np.clip(radius**2 - along**2, 0.0, None))
        integrand = np.exp(-along / model.arm_length) / model.arm_length
        values = integrand * erf(half_chord / (math.sqrt(2) * sc))
        arm = float(np.sum((values[1:] + values[:-1]) * np.diff(along)) / 2.0)
        result.append(
            model.core_fraction * core + model.arm_fraction * arm + model.diffuse_fraction * diffuse
        )
    return np.array(result)


def _radius_for(fraction: float, model: PsfModel) -> float:
    """The radius [arcmin] enclosing ``fraction`` of the photons (bisection to 0.001')."""
    low, high = 0.0, 200.0
    while high - low > 1e-3:
        middle = 0.5 * (low + high)
        low, high = (
            (middle, high) if encircled_energy(middle, model)[0] < fraction else (low, middle)
        )
    return 0.5 * (low + high)


def psf_hdus(
    valid_from: str, seed: int
) -> list[fits.PrimaryHDU | fits.ImageHDU | fits.BinTableHDU]:
    """The PSF file: image ``PSF`` (fraction per DET pixel) and table ``EEF`` (not indexed)."""
    scale = pixel_scale_arcsec() / 60.0  # arcmin per DET pixel
    offsets = np.arange(-PSF_HALF_SIZE, PSF_HALF_SIZE + 1) * scale
    grid_x, grid_y = np.meshgrid(offsets, offsets)  # [row = DETY offset, column = DETX]
    image = (psf_density(grid_x, grid_y) * scale**2).astype(np.float32)
    model = PSF_MODEL
    centre = float(PSF_HALF_SIZE + 1)
    ident = CalibrationId(
        "MXT", "PSF", "BCF", valid_from, "MXT lobster-eye PSF: spot, cross arms, halo", (BAND,)
    )
    header = calibration_header(
        ident,
        seed,
        (
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUDOC", "CAL/GEN/92-027", "document describing the format"),
            ("HDUCLAS1", "IMAGE", "dataset is an image"),
            ("HDUCLAS2", "PSF", "dataset is a point spread function"),
            ("HDUCLAS3", "PREDICTED", "from a model"),
            ("HDUVERS", "1.0.0", "version of the format"),
            ("CTYPE1", "DETX_OFF", "offset from the source along DETX"),
            ("CUNIT1", "arcmin", "unit of axis 1"),
            ("CRPIX1", centre, "pixel of the source position"),
            ("CRVAL1", 0.0, "[arcmin] offset at CRPIX1"),
            ("CDELT1", round(scale, 8), "[arcmin] one DET pixel"),
            ("CTYPE2", "DETY_OFF", "offset from the source along DETY"),
            ("CUNIT2", "arcmin", "unit of axis 2"),
            ("CRPIX2", centre, "pixel of the source position"),
            ("CRVAL2", 0.0, "[arcmin] offset at CRPIX2"),
            ("CDELT2", round(scale, 8), "[arcmin] one DET pixel"),
            ("ENERG_LO", 0.2, "[keV] PSF valid from (energy independent)"),
            ("ENERG_HI", 10.0, "[keV] PSF valid to"),
            ("PSFFWHM", model.core_fwhm, "[arcmin] FWHM of the central spot"),
            ("PSFFCORE", model.core_fraction, "fraction in the central spot"),
            ("PSFFARMS", model.arm_fraction, "fraction in the two cross arms"),
            ("PSFARMLN", model.arm_length, "[arcmin] exponential length of the arms"),
            ("PSFARMAX", "DETX,DETY", "arms lie along the DET axes"),
            ("PSFDFWHM", model.diffuse_fwhm, "[arcmin] FWHM of the diffuse halo"),
            ("PSFFDIFF", model.diffuse_fraction, "fraction in the diffuse halo"),
            ("PSFSUM", round(float(image.sum(dtype=np.float64)), 6), "fraction in this image"),
            ("EEFR50", round(_radius_for(0.5, model), 2), "[arcmin] radius enclosing 50%"),
            ("EEFR90", round(_radius_for(0.9, model), 2), "[arcmin] radius enclosing 90%"),
        ),
    )
    psf = fits.ImageHDU(data=image, header=header, name="PSF")
    radii = np.arange(0.5, 30.01, 0.5)
    eef = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="RADIUS", format="E", unit="arcmin", array=radii.astype("f4")),
            fits.Column(name="EEF", format="E", array=encircled_energy(radii).astype("f4")),
        ],
        name="EEF",
    )
    eef.header["TELESCOP"] = ("SVOM", "mission")
    eef.header["INSTRUME"] = ("MXT", "instrument")
    eef.header["COMMENT"] = "Encircled-energy fraction of the PSF model (not indexed)."
    return [primary_hdu("MXT", valid_from, seed), psf, eef]


def vignetting(theta_arcmin: np.ndarray, energy_kev: np.ndarray) -> np.ndarray:
    """Vignetting: effective area off axis relative to on axis (azimuth independent).

    Parameters
    ----------
    theta_arcmin : numpy.ndarray
        Off-axis angle [arcmin].
    energy_kev : numpy.ndarray
        Photon energy [keV] (broadcast against ``theta_arcmin``).

    Returns
    -------
    numpy.ndarray
        ``1 - 0.10 * (theta / 30)**2 * (1 + 0.02 * (E - 1))`` (dimensionless).
    """
    theta = np.asarray(theta_arcmin, float)
    energy = np.asarray(energy_kev, float)
    return 1.0 - VIGNET_COEF * (theta / 30.0) ** 2 * (1.0 + VIGNET_EDEP * (energy - 1.0))


def vignet_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The VIGNET file: one-row table ``VIGNET`` (OGIP CAL/GEN/92-021 layout)."""
    e_lo = np.round(np.arange(0.2, 10.0, 0.2), 6)
    e_hi = np.round(e_lo + 0.2, 6)
    theta = np.arange(0.0, 60.01, 2.0)
    values = vignetting(theta[:, None], 0.5 * (e_lo + e_hi)[None, :])  # (theta, energy)
    n_e, n_t = len(e_lo), len(theta)
    columns = [
        fits.Column(name="ENERG_LO", format=f"{n_e}E", unit="keV", array=e_lo[None, :]),
        fits.Column(name="ENERG_HI", format=f"{n_e}E", unit="keV", array=e_hi[None, :]),
        fits.Column(name="THETA", format=f"{n_t}E", unit="arcmin", array=theta[None, :]),
        fits.Column(name="PHI", format="1E", unit="deg", array=np.zeros((1, 1))),
        fits.Column(
            name="VIGNET",
            format=f"{n_e * n_t}E",
            dim=f"({n_e},{n_t},1)",
            array=values[None, None, :, :].astype(np.float32),
        ),
    ]
    ident = CalibrationId(
        "MXT", "VIGNET", "BCF", valid_from, "MXT vignetting vs off-axis angle and energy", (BAND,)
    )
    header = calibration_header(
        ident,
        seed,
        (
            ("HDUCLASS", "OGIP", "format conforms to OGIP standard"),
            ("HDUDOC", "CAL/GEN/92-021", "document describing the format"),
            ("HDUCLAS1", "RESPONSE", "dataset relates to instrument response"),
            ("HDUCLAS2", "VIGNET", "dataset is a vignetting function"),
            ("HDUVERS", "1.0.0", "version of the format"),
            ("VIGCOEF", VIGNET_COEF, "V = 1 - VIGCOEF*(THETA/30)**2*(1+VIGEDEP*(E-1))"),
            ("VIGEDEP", VIGNET_EDEP, "[1/keV] energy dependence of the drop"),
        ),
    )
    table = fits.BinTableHDU.from_columns(columns, header=header, name="VIGNET")
    return [primary_hdu("MXT", valid_from, seed), table]


def response_energy_grid() -> tuple[np.ndarray, np.ndarray]:
    """Photon energy bins of the ARF and RMF: 0.2-10 keV in 980 bins of 10 eV [keV]."""
    edges = np.round(0.2 + 0.01 * np.arange(981), 6)
    return edges[:-1], edges[1:]


def pi_channel_edges() -> np.ndarray:
    """Edges of the 1024 PI channels [keV]: channel k spans ``0.01 k`` to ``0.01 (k + 1)``."""
    return np.round(CHANNEL_KEV * np.arange(N_CHANNELS + 1), 6)


def effective_area(energy_kev: np.ndarray) -> np.ndarray:
    """On-axis effective area (optics, filter and detector together).

    Parameters
    ----------
    energy_kev : numpy.ndarray
        Photon energy [keV].

    Returns
    -------
    numpy.ndarray
        ``55 * exp(-(0.35 / E)**2.2) / (1 + (E / 2.5)**2.5)`` [cm2]: about 45 cm2 at
        1 keV, 13.5 cm2 at 0.3 keV, 2.8 cm2 at 8 keV.
    """
    energy = np.asarray(energy_kev, float)
    return AREA_NORM_CM2 * np.exp(-((0.35 / energy) ** 2.2)) / (1.0 + (energy / 2.5) ** 2.5)


def resolution_fwhm(energy_kev: np.ndarray) -> np.ndarray:
    """Energy resolution of the pnCCD.

    Parameters
    ----------
    energy_kev : numpy.ndarray
        Photon energy [keV].

    Returns
    -------
    numpy.ndarray
        FWHM [keV] ``= 2.3548 * w * sqrt(ENC**2 + F * E / w)`` with w = 3.68 eV per pair,
        ENC = 4.9 electrons, Fano factor F = 0.131 (76 eV at 1.5 keV).
    """
    energy = np.asarray(energy_kev, float)
    electrons = ENC_ELECTRONS**2 + FANO * energy / PAIR_ENERGY_KEV
    return FWHM_PER_SIGMA * PAIR_ENERGY_KEV * np.sqrt(electrons)


def arf_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The ARF file: table ``SPECRESP`` on the response energy grid."""
    e_lo, e_hi = response_energy_grid()
    ident = CalibrationId(
        "MXT", "SPECRESP", "CPF", valid_from, "MXT on-axis effective area (ARF)", (BAND,)
    )
    area = effective_area(0.5 * (e_lo + e_hi))
    return [
        primary_hdu("MXT", valid_from, seed),
        arf_hdu(ident, seed, energy_lo=e_lo, energy_hi=e_hi, area=area),
    ]


def rmf_hdus(valid_from: str, seed: int) -> list[fits.PrimaryHDU | fits.BinTableHDU]:
    """The RMF file: ``MATRIX`` (CCNM0001 MATRIX) then ``EBOUNDS`` (CCNM0001 EBOUNDS)."""
    e_lo, e_hi = response_energy_grid()
    edges = pi_channel_edges()
    boundaries = ("CHANTYPE(PI)", BAND)
    matrix = matrix_hdu(
        CalibrationId("MXT", "MATRIX", "CPF", valid_from, "MXT redistribution matrix", boundaries),
        seed,
        energy_lo=e_lo,
        energy_hi=e_hi,
        channel_edges=edges,
        fwhm=resolution_fwhm,
        extra=(
            ("EPAIR", PAIR_ENERGY_KEV * 1000, "[eV] energy per electron-hole pair"),
            ("ENC", ENC_ELECTRONS, "[electron] equivalent noise charge"),
            ("FANO", FANO, "Fano factor"),
        ),
    )
    ebounds = ebounds_hdu(
        CalibrationId(
            "MXT", "EBOUNDS", "CPF", valid_from, "MXT PI channel energy bounds", boundaries
        ),
        seed,
        edges,
    )
    return [primary_hdu("MXT", valid_from, seed), matrix, ebounds]
