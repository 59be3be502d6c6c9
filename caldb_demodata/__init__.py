"""The demonstration calibration set of the SVOM CalDB (``caldb-server demo-data``).

Generated, self-consistent, OGIP-keyworded calibration files for MXT, ECL and VT plus
onboard YAML uploads: coherent "test" content, not real measurements. The formats, the
keywords the pipeline bricks read and the formulas are in ``docs/calibration_formats.md``.
The same seed gives byte-identical files; tests and benchmarks import the science
functions of :mod:`.mxt_detector`, :mod:`.mxt_optics`, :mod:`.ecl` and :mod:`.vt`.

It is its own package because it describes the instruments: the server only ingests what
it produces (``caldb-server demo-data`` calls :func:`generate`), and it imports nothing of
the server, the client or the bricks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

from astropy.io import fits

from caldb_demodata import ecl, mxt_detector, mxt_optics, onboard, vt
from caldb_demodata.common import EPOCH_1, EPOCH_2, file_name, write_fits

__all__ = ["DEFAULT_SEED", "EPOCH_1", "EPOCH_2", "generate", "planned_files"]

DEFAULT_SEED = 2024
_Builder = Callable[[str, int], Sequence[fits.PrimaryHDU | fits.ImageHDU | fits.BinTableHDU]]


def planned_files() -> list[tuple[str, _Builder, str]]:
    """The FITS files in upload order: (file name, builder(valid_from, seed), valid_from).

    Every epoch-1 file of every instrument comes first, then the second MXT epoch
    (TELDEF, GAIN, CTI from 2025-06-01), so that ``as_of`` between the two uploads sees
    only the first epoch.
    """
    files: list[tuple[str, _Builder, str]] = [
        (
            file_name("mxt", "teldef", EPOCH_1),
            lambda d, s: mxt_detector.teldef_hdus(1, d, s),
            EPOCH_1,
        ),
        (file_name("mxt", "gain", EPOCH_1), lambda d, s: mxt_detector.gain_hdus(1, d, s), EPOCH_1),
        (file_name("mxt", "cti", EPOCH_1), lambda d, s: mxt_detector.cti_hdus(1, d, s), EPOCH_1),
        (file_name("mxt", "badpix", EPOCH_1), mxt_detector.badpix_hdus, EPOCH_1),
        (file_name("mxt", "psf", EPOCH_1), mxt_optics.psf_hdus, EPOCH_1),
        (file_name("mxt", "vignet", EPOCH_1), mxt_optics.vignet_hdus, EPOCH_1),
        (file_name("mxt", "specresp", EPOCH_1, "arf"), mxt_optics.arf_hdus, EPOCH_1),
        (file_name("mxt", "matrix", EPOCH_1, "rmf"), mxt_optics.rmf_hdus, EPOCH_1),
        (file_name("ecl", "gain", EPOCH_1), ecl.gain_hdus, EPOCH_1),
        (file_name("ecl", "badpix", EPOCH_1), ecl.badpix_hdus, EPOCH_1),
        (file_name("ecl", "matrix", EPOCH_1, "rmf"), ecl.rmf_hdus, EPOCH_1),
    ]
    for codename, builder in (("bias", vt.bias_hdus), ("flat", vt.flat_hdus)):
        for ccd in vt.CCDS:
            files.append(
                (
                    file_name("vt", f"{codename}_{ccd.lower()}", EPOCH_1),
                    functools.partial(builder, ccd),
                    EPOCH_1,
                )
            )
    files.append((file_name("vt", "zeropt", EPOCH_1), vt.zeropt_hdus, EPOCH_1))
    files += [
        (
            file_name("mxt", "teldef", EPOCH_2),
            lambda d, s: mxt_detector.teldef_hdus(2, d, s),
            EPOCH_2,
        ),
        (file_name("mxt", "gain", EPOCH_2), lambda d, s: mxt_detector.gain_hdus(2, d, s), EPOCH_2),
        (file_name("mxt", "cti", EPOCH_2), lambda d, s: mxt_detector.cti_hdus(2, d, s), EPOCH_2),
    ]
    return files


def generate(directory: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the demonstration calibration set into ``directory``.

    Parameters
    ----------
    directory : Path
        Created if needed; existing files of the same names are overwritten.
    seed : int
        Seed of every random content (same seed, byte-identical files).

    Returns
    -------
    list of Path
        Every written file in upload order: FITS files (epoch 1 of all instruments, then
        the second MXT epoch), then the onboard YAML files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        write_fits(directory / name, builder(valid_from, seed))
        for name, builder, valid_from in planned_files()
    ]
    return written + onboard.write_onboard(directory, seed)
