"""Rule book_noise: the variance of the book noise in ln depreciation rate, pooled over
industries (read by measure_industry under norm_method: deconvolved)."""

import json
import logging

import polars as pl

from cbec import runlog
from cbec.data.io import write_text_atomic
from cbec.measures.deconv import book_noise


def main() -> None:
    cfg = snakemake.params.measures
    common = list(cfg["yjz"]["noise_common_shocks"])
    log = logging.getLogger("book_noise")
    columns = list(dict.fromkeys(["firm_id", "year", "ind2", "dep_rate", *common]))
    panel = pl.read_parquet(snakemake.input[0], columns=columns)
    out = book_noise(panel, cfg["industries"], common)
    log.info(
        "book noise in ln depreciation rate: variance %.5f (sd %.4f), model %s, rho %s, "
        "%d of %d firm-years (%d without a positive rate or a value of %s)%s",
        out["var"],
        out["sd"],
        out["model"],
        "n/a" if out["rho"] is None else f"{out['rho']:.3f}",
        out["n_used"],
        out["n_rows"],
        out["n_dropped_no_rate_or_cell"],
        ", ".join(common) or "year",
        f"; AR(1) fit not used: {out['note']}" if out["note"] else "",
    )
    write_text_atomic(json.dumps(out, indent=2) + "\n", snakemake.output[0])


runlog.run(main, snakemake.log[0], "book_noise")
