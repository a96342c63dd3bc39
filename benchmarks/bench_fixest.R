# R's fixest on the simulated Table 2 data of bench_fe.py (run through bench_fixest.py).
# Usage: Rscript benchmarks/bench_fixest.R PANEL.csv REPS THREADS
# Prints one JSON line: fixest version, threads, wall time of each repetition (the model
# only, after the read), their median, and the coefficients and clustered standard errors.
args <- commandArgs(trailingOnly = TRUE)
path <- args[1]
reps <- as.integer(args[2])
threads <- as.integer(args[3])
suppressPackageStartupMessages({
  library(fixest)
  library(data.table)
})
setFixest_nthreads(threads)
df <- fread(path)
fml <- cu ~ platform + lnqygm + lnage + percs + sfgyqy + sfwzqy + fc |
  firm_id + ind2^year + city^year
times <- numeric(reps)
for (r in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  m <- feols(fml, data = df, cluster = ~firm_id, fixef.rm = "both")
  times[r] <- proc.time()[["elapsed"]] - t0
}
num <- function(v) paste(sprintf("%.12g", v), collapse = ", ")
cat(sprintf(
  '{"fixest": "%s", "threads": %d, "nobs": %d, "wall_s": [%s], "median_s": %.4f, "coef": [%s], "se": [%s]}\n',
  as.character(packageVersion("fixest")), threads, nobs(m), num(times), median(times),
  num(coef(m)), num(se(m))
))
