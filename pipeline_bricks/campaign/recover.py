"""What a run's products give back of its truth: photon index, decay index and flux.

After the chain has found the truth's source, ``mxt-products`` is run for it (previews left
out: a campaign reads the FITS products, and the PNGs would take half the time) and its
products are read as a user would: the source PHA and the files its keywords name
(``BACKFILE``, ``ANCRFILE``, ``RESPFILE``, ``BACKSCAL``, ``EXPOSURE``), and the constant-S/N
light curve with its ``TRIGTIME``. The fits are :mod:`pipeline_bricks.campaign.spectral_fit`
(NH fixed to the truth) and :func:`pipeline_bricks.campaign.fitting.fit_decay_index`. A fit
that cannot be made leaves its fields ``None``, with the reason in ``recovery_note``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from pipeline_bricks.campaign import locate
from pipeline_bricks.campaign.fitting import fit_decay_index, power_law_integral
from pipeline_bricks.campaign.spectral_fit import fit_absorbed_power_law
from pipeline_bricks.framework.brick import BrickContext
from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.bricks.products import MxtProducts

__all__ = ["RECOVERED", "MxtCampaignProducts", "recover", "true_mean_flux"]

# the fields a run's record gains, None until recovered
RECOVERED = (
    "products_status", "gamma_found", "gamma_found_err", "decay_found", "decay_found_err",
    "flux_true_erg_cm2_s", "flux_found_erg_cm2_s", "flux_ratio", "recovery_note",
)  # fmt: skip
SNR_LIGHT_CURVE = "_lc_snr.fits"


class MxtCampaignProducts(MxtProducts):
    """``mxt-products`` without its PNG previews (the FITS products are those of the brick)."""

    name = "mxt-campaign-products"
    description = "mxt-products without previews (campaigns)"

    def _previews(self, context: BrickContext, *args: Any, **kwargs: Any) -> None:
        """No preview: nobody looks at hundreds of them, and they take half the brick's time."""


def _named(directory: Path, outputs: dict[str, list[str]], kind: str, suffix: str) -> Path:
    names = [n for n in outputs.get(kind, []) if n.endswith(suffix)]
    if len(names) != 1:
        raise ValueError(f"mxt-products wrote no {kind} file *{suffix}")
    return directory / names[0]


def _spectrum(path: Path) -> tuple[np.ndarray, fits.Header]:
    with fits.open(path) as hdus:
        return np.asarray(hdus["SPECTRUM"].data["COUNTS"], float), hdus["SPECTRUM"].header


def _fit_spectrum(directory: Path, source: Path, nh_cm2: float) -> tuple[float, float, float]:
    """Photon index, its error and the fitted 0.3-8 keV absorbed flux [erg/cm²/s]."""
    counts, header = _spectrum(source)
    background, background_header = _spectrum(directory / header["BACKFILE"])
    exposure = float(header["EXPOSURE"])
    scale = float(background_header["BACKSCAL"]) / float(header["BACKSCAL"])
    fit = fit_absorbed_power_law(
        counts, background, exposure_s=exposure,
        background_exposure_s=float(background_header["EXPOSURE"]) * scale,
        arf=caldata.read_specresp(directory / header["ANCRFILE"]),
        rmf=caldata.read_rmf(directory / header["RESPFILE"]), nh_cm2=nh_cm2,
    )  # fmt: skip
    return fit.gamma, fit.gamma_err, fit.flux_erg_cm2_s


def _fit_light_curve(path: Path) -> tuple[float, float, np.ndarray, float]:
    """Decay index, its error, the GTIs [s, mission time] and T0 [s] of the light curve."""
    with fits.open(path) as hdus:
        rate, header = hdus["RATE"].data, hdus["RATE"].header
        gti = np.array([hdus["GTI"].data["START"], hdus["GTI"].data["STOP"]], dtype=np.float64)
    t0 = float(header["TRIGTIME"])
    width = np.asarray(rate["TIMEDEL"], dtype=np.float64)
    start = np.asarray(rate["TIME"], dtype=np.float64) - 0.5 * width - t0  # TIMEPIXR = 0.5
    exposure = width * np.asarray(rate["FRACEXP"], dtype=np.float64)
    fit = fit_decay_index(start, start + width, exposure, rate["COUNTS"],
                          np.asarray(rate["BACKV"], dtype=np.float64) * exposure)  # fmt: skip
    return fit.decay, fit.decay_err, gti, t0


def true_mean_flux(truth: dict[str, Any], gti: np.ndarray, t0: float) -> float:
    """The truth's absorbed 0.3-8 keV flux averaged over the good times [erg/cm²/s].

    Parameters
    ----------
    truth : dict
        The simulator's ``truth.json``: flux at TSTART and the rate law.
    gti : numpy.ndarray
        ``(2, n)`` starts and stops of the good times [s, mission time].
    t0 : float
        Trigger time [s, mission time].

    Returns
    -------
    float
        What a fit of the spectrum of the whole exposure measures, if it is right.
    """
    law = truth["rate_law"]
    t1 = float(law["start_offset_s"])
    shares = power_law_integral(gti[0] - t0, gti[1] - t0, float(law["decay_index"]), t1)
    mean = float(shares.sum() / np.sum(gti[1] - gti[0]))
    return float(truth["spectrum"]["flux_erg_cm2_s_at_tstart"]) * mean


def recover(out: Path, truth: dict[str, Any], ra_deg: float, dec_deg: float) -> dict[str, Any]:
    """The products of the source found at ``ra_deg, dec_deg`` [deg] in run ``out``, fitted.

    Returns the :data:`RECOVERED` fields and ``seconds_products`` (products and fits).
    """
    started = time.perf_counter()
    fields: dict[str, Any] = dict.fromkeys(RECOVERED)
    status, document = locate.extract_products(out, ra_deg, dec_deg, MxtCampaignProducts)
    fields["products_status"] = status
    directory, outputs = out / locate.PRODUCTS_DIR, document.get("outputs", {})
    notes = []
    spectrum = truth["spectrum"]
    if status != "SUCCESS":
        notes.append("; ".join(m["text"] for m in document.get("messages", [])) or status)
    elif spectrum.get("gamma") is None:
        notes.append("the true spectrum is lines: no power law fitted")
    else:
        try:
            gamma, gamma_err, flux = _fit_spectrum(
                directory, _named(directory, outputs, "spectrum", "_src.pha"),
                float(spectrum["nh_cm2"]),
            )  # fmt: skip
            fields |= {"gamma_found": round(gamma, 4), "gamma_found_err": round(gamma_err, 4),
                       "flux_found_erg_cm2_s": float(f"{flux:.5g}")}  # fmt: skip
        except ValueError as error:
            notes.append(f"spectral fit: {error}")
    if status == "SUCCESS":
        try:
            decay, decay_err, gti, t0 = _fit_light_curve(
                _named(directory, outputs, "lightcurve", SNR_LIGHT_CURVE)
            )
            fields |= {"decay_found": round(decay, 4), "decay_found_err": round(decay_err, 4)}
            if spectrum.get("flux_erg_cm2_s_at_tstart") is not None:
                fields["flux_true_erg_cm2_s"] = float(f"{true_mean_flux(truth, gti, t0):.5g}")
        except ValueError as error:  # also: no light curve (no event in the region)
            notes.append(f"decay fit: {error}")
    if fields["flux_found_erg_cm2_s"] and fields["flux_true_erg_cm2_s"]:
        fields["flux_ratio"] = round(
            fields["flux_found_erg_cm2_s"] / fields["flux_true_erg_cm2_s"], 4
        )
    fields["recovery_note"] = "; ".join(notes) or None
    return fields | {"seconds_products": round(time.perf_counter() - started, 3)}
