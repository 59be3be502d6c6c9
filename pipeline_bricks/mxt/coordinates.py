"""MXT event coordinates: RAW -> DET -> celestial (RA, Dec) -> SKY, and the inverse.

Pure science of the ``mxt-coordinates`` brick (docs/calibration_formats.md §2.1): RAW -> DET
by the linear ``COE_*`` transform (optionally randomised inside the pixel); DET -> focal-plane
offsets ``xi, eta`` [mm] about ``OPTAXISX/Y``; instrument direction ``u_inst ~ (xi, eta, f)``
(upright lobster-eye image, ``IMAGEINV = F``; ``(-xi, -eta, f)`` if inverting); ``u_sc =
ALIGNM u_inst``; ``u_cel = A u_sc`` with ``A = [X_sc Y_sc Z_sc]`` from the pointing (RA, Dec
of +Z_sc) and the roll (position angle of +Y_sc, north through east); SKY = FITS TAN
projection about (RA_NOM, DEC_NOM) with ``CDELT1 = -SKY_XSCL/3600`` deg (:mod:`.sky`).

Consequence (asserted in the tests): +DETY points to position angle ``roll`` and +DETX to
``roll + 90`` deg (at roll 0: +DETX east, +DETY north). Sky X grows towards decreasing RA, so
DET -> SKY is a rotation combined with a mirror (determinant -1).

All functions work on whole arrays (no per-event Python loop); angles are in degrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

# Teldef fields read from the keyword of the same name (upper case), required or defaulted.


@dataclass(frozen=True, eq=False)
class Teldef:
    """The MXT telescope definition (TELDEF keywords of docs/calibration_formats.md §2).

    Attributes
    ----------
    coe_x, coe_y : tuple of float
        ``(A, B, C)`` of ``DETX = A + B*RAWX + C*RAWY`` and likewise DETY (segment 0).
    optaxisx, optaxisy : float
        DET position of the optical axis [pixel].
    det_xscl, det_yscl, focallen : float
        DET pixel size and focal length [mm].
    alignm : numpy.ndarray
        3 x 3 rotation, ``v_sc = alignm @ v_inst`` (read-only).
    sky_xcen, sky_ycen : float
        SKY pixel of the nominal pointing [pixel, 1-based].
    sky_xscl, sky_yscl : float
        SKY pixel size [arcsec].
    imageinv : bool
        True for an inverting optic (``u_inst ~ (-xi, -eta, f)``); False (MXT): upright.
    raw_xsiz, raw_ysiz, rawxpix1, rawypix1, sky_xsiz, sky_ysiz : int
        RAW size and first pixel number, SKY image size [pixel].
    """

    coe_x: tuple[float, float, float]
    coe_y: tuple[float, float, float]
    optaxisx: float
    optaxisy: float
    det_xscl: float
    det_yscl: float
    focallen: float
    alignm: np.ndarray
    sky_xcen: float
    sky_ycen: float
    sky_xscl: float
    sky_yscl: float
    imageinv: bool = False
    raw_xsiz: int = 256
    raw_ysiz: int = 256
    rawxpix1: int = 1
    rawypix1: int = 1
    sky_xsiz: int = 512
    sky_ysiz: int = 512

    @classmethod
    def from_header(cls, header: Mapping[str, Any]) -> Teldef:
        """Read a TELDEF primary header (an astropy Header or any mapping of keywords).

        ``DETXFLIP``, ``DETYFLIP`` and ``DET_ROTD`` are ignored on purpose: any flip is in
        the ``COE_*`` coefficients (§2).

        Raises
        ------
        KeyError
            A required keyword is missing.
        ValueError
            ``SEG_NUM`` is not 1, or ``ALIGNM`` is not a proper rotation (to 1e-8).
        """

        def get(key: str) -> float:
            if key not in header:
                raise KeyError(f"TELDEF keyword {key} is missing")
            return float(header[key])

        def size(key: str, default: int) -> int:
            return int(header.get(key, default))

        if int(header.get("SEG_NUM", 1)) != 1:
            raise ValueError("only one readout segment (SEG_NUM = 1) is supported")
        alignm = np.array([[get(f"ALIGNM{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        if not np.allclose(alignm @ alignm.T, np.eye(3), atol=1e-8) or np.linalg.det(alignm) < 0:
            raise ValueError("ALIGNM is not a rotation matrix")
        alignm.setflags(write=False)
        imageinv = header.get("IMAGEINV", False)
        if isinstance(imageinv, str):
            imageinv = imageinv.strip().upper() in {"T", "TRUE"}
        return cls(
            coe_x=(get("COE_X0_A"), get("COE_X0_B"), get("COE_X0_C")),
            coe_y=(get("COE_Y0_A"), get("COE_Y0_B"), get("COE_Y0_C")),
            optaxisx=get("OPTAXISX"),
            optaxisy=get("OPTAXISY"),
            det_xscl=get("DET_XSCL"),
            det_yscl=get("DET_YSCL"),
            focallen=get("FOCALLEN"),
            alignm=alignm,
            sky_xcen=get("SKY_XCEN"),
            sky_ycen=get("SKY_YCEN"),
            sky_xscl=get("SKY_XSCL"),
            sky_yscl=get("SKY_YSCL"),
            imageinv=bool(imageinv),
            raw_xsiz=size("RAW_XSIZ", 256),
            raw_ysiz=size("RAW_YSIZ", 256),
            rawxpix1=size("RAWXPIX1", 1),
            rawypix1=size("RAWYPIX1", 1),
            sky_xsiz=size("SKY_XSIZ", 512),
            sky_ysiz=size("SKY_YSIZ", 512),
        )


def _flat(*values: Any) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast the inputs together: (common shape, flattened float64 arrays)."""
    arrays = np.broadcast_arrays(*(np.asarray(v, float) for v in values))
    return arrays[0].shape, [a.ravel() for a in arrays]


def _wrap360(angle: np.ndarray) -> np.ndarray:
    """Angles [deg] in [0, 360) (``%`` alone can round up to 360.0).

    An angle in (-360, 720) -- nearly every one -- takes one addition or subtraction of
    360, exactly what ``%`` computes for it (bit for bit) in a fraction of the time.
    """
    wrapped = np.asarray(angle, float) + 0.0  # a new array, and -0.0 -> 0.0 as % gives
    np.add(wrapped, 360.0, out=wrapped, where=wrapped < 0.0)
    np.subtract(wrapped, 360.0, out=wrapped, where=wrapped >= 360.0)
    far = (wrapped < 0.0) | (wrapped >= 360.0)
    if np.any(far):
        rest = np.asarray(angle, float)[far] % 360.0
        wrapped[far] = np.where(rest >= 360.0, rest - 360.0, rest)
    return wrapped


def raw_to_det(
    rawx: Any, rawy: Any, teldef: Teldef, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """RAW pixel numbers (1-based) -> DET coordinates [pixel, float64] (step 1).

    With ``rng``, a uniform offset in [-0.5, +0.5) pixel is added to each of DETX and DETY
    (continuous coordinates inside the pixel).
    """
    rawx, rawy = np.broadcast_arrays(np.asarray(rawx, float), np.asarray(rawy, float))
    ax, bx, cx = teldef.coe_x
    ay, by, cy = teldef.coe_y
    detx = ax + bx * rawx + cx * rawy
    dety = ay + by * rawx + cy * rawy
    if rng is not None:
        detx = detx + rng.uniform(-0.5, 0.5, detx.shape)
        dety = dety + rng.uniform(-0.5, 0.5, dety.shape)
    return detx, dety


def det_live_mask(dead_raw: np.ndarray, teldef: Teldef) -> np.ndarray:
    """DET pixels that collect events, from the RAW pixels whose events are discarded.

    Parameters
    ----------
    dead_raw : numpy.ndarray
        Bool ``[RAWY - RAWYPIX1, RAWX - RAWXPIX1]`` (BADPIX OR hot pixels), RAW shape.
    teldef : Teldef
        The TELDEF: RAW -> DET is a flip or rotation of the pixel grid.

    Returns
    -------
    numpy.ndarray
        Bool ``[DETY - 1, DETX - 1]`` of the RAW shape: True where the DET pixel centre
        falls on a live RAW pixel.
    """
    shape = (teldef.raw_ysiz, teldef.raw_xsiz)
    if np.shape(dead_raw) != shape:
        raise ValueError(f"the dead-pixel mask must have the RAW shape {shape}")
    dety, detx = np.mgrid[1 : shape[0] + 1, 1 : shape[1] + 1].astype(np.float64)
    rawx, rawy, on_ccd = det_to_raw(detx, dety, teldef)
    column = np.where(on_ccd, rawx - teldef.rawxpix1, 0)
    row = np.where(on_ccd, rawy - teldef.rawypix1, 0)
    return on_ccd & ~np.asarray(dead_raw, dtype=bool)[row, column]


def det_to_raw(detx: Any, dety: Any, teldef: Teldef) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET coordinates [pixel] -> RAW pixel numbers (inverse of step 1, for the simulator).

    Returns
    -------
    rawx, rawy : numpy.ndarray
        ``floor(raw + 0.5)`` of the inverted linear transform (int64; 0 where not finite).
    on_ccd : numpy.ndarray
        Bool: finite and inside ``RAWXPIX1 .. RAWXPIX1 + RAW_XSIZ - 1`` (same for Y).
    """
    shape, (detx, dety) = _flat(detx, dety)
    ax, bx, cx = teldef.coe_x
    ay, by, cy = teldef.coe_y
    inverse = np.linalg.inv(np.array([[bx, cx], [by, cy]]))
    dx, dy = detx - ax, dety - ay
    raw = [np.floor(inverse[i, 0] * dx + inverse[i, 1] * dy + 0.5) for i in (0, 1)]
    finite = np.isfinite(raw[0]) & np.isfinite(raw[1])
    rawx, rawy = (np.where(finite, r, 0.0).astype(np.int64) for r in raw)
    on_ccd = finite & (rawx >= teldef.rawxpix1) & (rawx < teldef.rawxpix1 + teldef.raw_xsiz)
    on_ccd &= (rawy >= teldef.rawypix1) & (rawy < teldef.rawypix1 + teldef.raw_ysiz)
    return rawx.reshape(shape), rawy.reshape(shape), on_ccd.reshape(shape)


def attitude_matrices(ra_deg: Any, dec_deg: Any, roll_deg: Any) -> np.ndarray:
    """Spacecraft -> J2000 rotation matrices ``A = [X_sc Y_sc Z_sc]`` (step 5).

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        Direction of the spacecraft +Z axis [deg].
    roll_deg : array_like
        Position angle of the spacecraft +Y axis, from north through east [deg].

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 3, 3)`` (n = broadcast size of the inputs); ``A[k] @ v_sc = v_cel``.
    """
    alpha, delta, pa = (np.radians(v) for v in _flat(ra_deg, dec_deg, roll_deg)[1])
    ca, sa, cd, sd = np.cos(alpha), np.sin(alpha), np.cos(delta), np.sin(delta)
    z = np.stack([cd * ca, cd * sa, sd], axis=-1)
    east = np.stack([-sa, ca, np.zeros_like(sa)], axis=-1)
    north = np.stack([-sd * ca, -sd * sa, cd], axis=-1)
    cp, sp = np.cos(pa)[:, None], np.sin(pa)[:, None]
    return np.stack([cp * east - sp * north, cp * north + sp * east, z], axis=-1)


def interpolate_attitude(
    times: Any,
    att_time: Any,
    att_ra: Any,
    att_dec: Any,
    att_roll: Any,
    *,
    outside: Literal["raise", "nan"] = "raise",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attitude at the event times, linear between the bracketing attitude rows.

    RA and roll are unwrapped before interpolating (359.9 -> 0.1 deg is a step of +0.2 deg)
    and returned in [0, 360).

    Parameters
    ----------
    times : array_like
        Event times [s].
    att_time, att_ra, att_dec, att_roll : array_like
        Attitude ``TIME`` [s] (strictly increasing), ``RA``, ``DEC``, ``ROLL`` [deg].
    outside : {"raise", "nan"}
        Times outside ``[att_time[0], att_time[-1]]`` (or not finite): raise ``ValueError``
        (default) or return NaN for them.

    Returns
    -------
    ra, dec, roll : numpy.ndarray
        [deg], the shape of ``times``.
    """
    t = np.asarray(times, float)
    at = np.asarray(att_time, float)
    if at.ndim != 1 or at.size == 0 or np.any(np.diff(at) <= 0):
        raise ValueError("attitude TIME must be a non-empty, strictly increasing 1-d array")
    ra = _wrap360(np.interp(t, at, np.unwrap(np.asarray(att_ra, float), period=360.0)))
    dec = np.interp(t, at, np.asarray(att_dec, float))
    roll = _wrap360(np.interp(t, at, np.unwrap(np.asarray(att_roll, float), period=360.0)))
    bad = ~((t >= at[0]) & (t <= at[-1]))
    if np.any(bad):
        if outside == "raise":
            raise ValueError(
                f"{int(np.count_nonzero(bad))} time(s) outside the attitude table "
                f"[{at[0]}, {at[-1]}] s"
            )
        ra, dec, roll = (np.where(bad, np.nan, v) for v in (ra, dec, roll))
    return ra, dec, roll


def det_to_radec(  # noqa: PLR0917 (the attitude triple reads best positionally)
    detx: Any, dety: Any, teldef: Teldef, ra_pnt: Any, dec_pnt: Any, roll: Any
) -> tuple[np.ndarray, np.ndarray]:
    """DET coordinates [pixel] -> J2000 RA, Dec [deg] (steps 2-5), per-event attitude.

    ``ra_pnt``, ``dec_pnt``, ``roll`` [deg] are scalars or one value per event (e.g. from
    :func:`interpolate_attitude`); all inputs broadcast together. Returns ``(ra, dec)`` with
    RA in [0, 360); NaN where the attitude is NaN.

    The product ``A u_sc`` of step 5 is expanded (no 3 x 3 matrix per event): with ``a =
    cos(roll) u1 + sin(roll) u2`` and ``b = cos(roll) u2 - sin(roll) u1`` the components of
    ``u_sc`` along east and north at the pointing, and ``w = cos(dec) u3 - sin(dec) b``,
    ``u_cel`` is ``(w, a)`` rotated by ``ra_pnt`` in the equatorial plane and ``cos(dec) b +
    sin(dec) u3`` along the pole, so ``RA = ra_pnt + atan2(a, w)`` and ``Dec = atan2(cos(dec)
    b + sin(dec) u3, |(w, a)|)``. Both are independent of the length of ``u``, which is
    therefore not normalised.
    """
    shape, (detx, dety, ra_pnt, dec_pnt, roll) = _flat(detx, dety, ra_pnt, dec_pnt, roll)
    sign = -1.0 if teldef.imageinv else 1.0
    xi = (detx - teldef.optaxisx) * (sign * teldef.det_xscl)
    eta = (dety - teldef.optaxisy) * (sign * teldef.det_yscl)
    (m11, m12, m13), (m21, m22, m23), (m31, m32, m33) = teldef.alignm.tolist()
    f = teldef.focallen
    u1 = m11 * xi + m12 * eta + m13 * f  # u_sc = ALIGNM u_inst, u_inst ~ (xi, eta, f)
    u2 = m21 * xi + m22 * eta + m23 * f
    u3 = m31 * xi + m32 * eta + m33 * f
    delta, pa = np.radians(dec_pnt), np.radians(roll)
    cd, sd, cp, sp = np.cos(delta), np.sin(delta), np.cos(pa), np.sin(pa)
    a = cp * u1 + sp * u2
    b = cp * u2 - sp * u1
    w = cd * u3 - sd * b
    ra = _wrap360(ra_pnt + np.degrees(np.arctan2(a, w)))
    dec = np.degrees(np.arctan2(cd * b + sd * u3, np.sqrt(w * w + a * a)))
    return ra.reshape(shape), dec.reshape(shape)


def radec_to_det(  # noqa: PLR0917 (the attitude triple reads best positionally)
    ra: Any, dec: Any, teldef: Teldef, ra_pnt: Any, dec_pnt: Any, roll: Any
) -> tuple[np.ndarray, np.ndarray]:
    """J2000 RA, Dec [deg] -> DET [pixel]: ``u_inst = ALIGNM^T A^T u_cel`` (the inverse).

    The attitude broadcasts as in :func:`det_to_radec`. Returns continuous ``(detx, dety)``;
    NaN for directions 90 deg or more from the optical axis. :func:`det_to_raw` gives the
    pixel and whether it is on the CCD.
    """
    shape, (ra, dec, ra_pnt, dec_pnt, roll) = _flat(ra, dec, ra_pnt, dec_pnt, roll)
    alpha, delta = np.radians(ra), np.radians(dec)
    u_cel = np.stack(
        [np.cos(delta) * np.cos(alpha), np.cos(delta) * np.sin(alpha), np.sin(delta)], axis=-1
    )
    att = attitude_matrices(ra_pnt, dec_pnt, roll)
    u_sc = (np.swapaxes(att, -1, -2) @ u_cel[..., None])[..., 0]
    u_inst = u_sc @ teldef.alignm  # row form of ALIGNM^T u_sc
    sign = -1.0 if teldef.imageinv else 1.0
    uz = np.where(u_inst[:, 2] > 0, u_inst[:, 2], np.nan)
    detx = teldef.optaxisx + sign * teldef.focallen * (u_inst[:, 0] / uz) / teldef.det_xscl
    dety = teldef.optaxisy + sign * teldef.focallen * (u_inst[:, 1] / uz) / teldef.det_yscl
    return detx.reshape(shape), dety.reshape(shape)


def off_axis_angle(detx: Any, dety: Any, teldef: Teldef) -> np.ndarray:
    """Off-axis angle ``theta = atan(sqrt(xi^2 + eta^2)/FOCALLEN)`` [arcmin] (for VIGNET)."""
    xi = (np.asarray(detx, float) - teldef.optaxisx) * teldef.det_xscl
    eta = (np.asarray(dety, float) - teldef.optaxisy) * teldef.det_yscl
    return np.degrees(np.arctan2(np.hypot(xi, eta), teldef.focallen)) * 60.0
