"""Default parameters and preset sizes of the synthetic world.

The `synthetic:` block of config.yaml may be partial; :func:`resolve_params` fills every
missing key from :data:`DEFAULTS` (recursively) and returns a complete parameter dict. The
preset sizes (:data:`PRESETS`) are defined here only; config.yaml selects one by name.
"""

from __future__ import annotations

import copy
from typing import Any

from cbec.config import SYNTHETIC_CSV_YEARS
from cbec.industries import CIC_MANUFACTURING

YEARS: list[int] = list(range(2001, 2016))
ANALYSIS_EXCLUDED: list[int] = [2008, 2009, 2010]

# CIC (GB/T 4754-2002) 2-digit manufacturing industries used by the world (the same list is
# the default of measures.industries in config.yaml)
INDUSTRIES: list[str] = list(CIC_MANUFACTURING)

# Relative number of ASIF firms per year (2001 = 1), shaped like the real ASIF counts
# (2004 census jump, 2008 peak, 2011 threshold change to 20 million yuan of sales).
YEAR_PROFILE: list[float] = [
    1.00, 1.06, 1.15, 1.45, 1.50, 1.65, 1.85, 2.05, 1.95, 1.95,
    1.80, 1.84, 1.90, 1.94, 1.98,
]  # fmt: skip

# Sizes of the presets, selected by config.yaml's `preset:` (the only place they are set;
# `synthetic.presets.<name>.n_firms_2001` in config.yaml overrides one).
PRESETS: dict[str, dict[str, Any]] = {
    # ~1,500 firms per year on average
    "tiny": {"n_firms_2001": 1000},
    # analysis sample (exporters, 2001-2007 + 2011-2015, cleaned) ~ 233,819 firm-years
    "paper": {"n_firms_2001": 42300},
    # ASIF scale: ~160k firms in 2001, > 300k per year after 2007, ~4.2 million firm-years
    "full": {"n_firms_2001": 160000},
}

DEFAULTS: dict[str, Any] = {
    "presets": copy.deepcopy(PRESETS),
    "year_profile": list(YEAR_PROFILE),
    "demography": {
        "exit_rate": 0.06,  # yearly exit hazard (ASIF exit)
        "exit_alpha": 0.8,  # exit hazard multiplier exp(-exit_alpha * alpha / sd_alpha)
        "gap_rate": 0.02,  # yearly probability of a temporary absence from ASIF
        "rename_rate": 0.02,  # yearly probability of a name change
        "recode_rate": 0.01,  # yearly probability of a legal-person code change
        "entry_age_mean_log": 1.0,  # ln(age + 1) at entry, entrants after 2001
        "initial_age_mean_log": 1.9,  # ln(age + 1) of the 2001 stock
        "age_sd_log": 0.75,
    },
    "ownership": {
        "p_state": 0.06,
        "p_collective": 0.06,
        "p_hmt": 0.056,
        "p_foreign": 0.165,
        "p_export_state": 0.09,
        "p_export_collective": 0.15,
        "p_export_private": 0.16,
        "p_export_hmt": 0.62,
        "p_export_foreign": 0.78,
        "indirect_export_share": 0.08,  # non-direct exporters with export delivery > 0
        "export_size_tilt": 0.5,  # logit tilt of export probability on size (per sd)
        "export_alpha_tilt": 0.3,  # logit tilt on alpha (per sd)
    },
    "production": {
        "rho_omega": 0.7,
        "sd_xi": 0.2,
        "sd_alpha": 0.3,
        # loading of the firm effect alpha in productivity omega. 0: omega is a pure AR(1),
        # the Markov law of motion of Olley-Pakes / Levinsohn-Petrin / ACF holds; alpha is a
        # persistent capability that raises utilization and adoption (the selection that
        # firm fixed effects remove). > 0 violates the first-order Markov assumption.
        "alpha_omega": 0.0,
        "tfp_growth": 0.01,
        "beta_l": 0.45,
        "beta_k": 0.30,
        "sd_beta_l": 0.04,
        "sd_beta_k": 0.03,
        "ln_va_per_worker": 4.6,  # ln thousand yuan (2001 prices) at mean inputs
        # transitory output shock and half-normal inefficiency s >= 0: small enough relative
        # to sd(omega) ~ 0.28 that measured TFP tracks omega (oracle within-industry
        # corr 0.88; 0.79 at 0.15 / 0.25), with s dominating v so that a stochastic frontier
        # has the right (negative) residual skew (gamma ~ 0.7)
        "sd_v": 0.10,
        "sd_s": 0.15,
        # share of the variance of s that is persistent (a firm-level, time-invariant
        # half-normal part; the rest is transient, i.i.d. per firm-year), total variance
        # kept: the four-component frontier literature (docs/synthetic_world.md,
        # "Production"); Ayelign & Singh 2019's manufacturing panel implies 0.63.
        # 0: the i.i.d. inefficiency of the earlier world.
        "s_persistent_share": 0.6,
        "k0_mean": 9.22,  # ln real capital at entry, thousand yuan (2001 prices)
        "k0_sd": 1.1,
        "k0_export_shift": 0.7,
        "k0_alpha": 1.0,
        "inv_rate": 0.11,  # I/K at mean omega and reference capital
        "iota_omega": 0.8,  # ln(I/K) response to omega (OP proxy)
        "iota_k": -0.05,  # mean reversion of capital
        # proxy noise (Olley-Pakes assumes none: at 0.10 the labour elasticity is biased up
        # by ~0.07 because ln L responds to omega)
        "sd_inv": 0.04,
        # ln(I/K) loads iota_omega on omega + iota_u * beta_k * ln u: the firm invests on the
        # persistent output shifter it knows, TFP plus the capital services it actually uses.
        # 1: investment is a function of the single unobservable of value added (OP's scalar
        # unobservable). 0: utilization is a second persistent unobservable in output that
        # investment ignores while utilization-driven depreciation moves k_t+1 -> OP's b_k
        # collapses (about -2 on the true variables, -1 on the panel).
        "iota_u": 1.0,
        # true: the physical stock depreciates at delta = a u^theta (GHH depreciation in use);
        # false: at the mean rate (only book depreciation reflects use)
        "capital_dep_in_use": True,
        "lambda_k": 0.6,  # ln L on ln K
        "lambda_omega": 0.5,  # ln L on omega
        "lambda_0": -1.60,
        "sd_lambda_ind": 0.25,  # industry capital-intensity dispersion
        "sd_wage_shock": 0.3,  # independent labour shock (wage)
        "materials_ratio": 2.6,  # M / VA at the mean
        "sd_materials": 0.05,  # LP proxy noise (small)
        # elasticity of materials with respect to utilization u (ln M moves by this times
        # ln u - its mean): materials are used in proportion to output (Leontief in gross
        # output), and u raises value added through capital services u K with elasticity
        # beta_k ~ 0.30 (docs/synthetic_world.md, "Production"). 0: materials ignore u.
        "materials_util_elasticity": 0.3,
        "dep_a": 0.12,  # delta = a * u^theta
        "dep_theta": 2.0,
        "sd_book_dep": 0.15,  # book depreciation = delta x base x exp(sd e)
        # base of book depreciation: "original" (straight-line accounting on the gross stock at
        # original value, the base the pipeline divides by: dep_rate = 本年折旧 / 固定资产原价)
        # or "stock" (the replacement value of the real stock, which falls with asset age
        # relative to the original value: dep_rate then mixes u with asset age and the YJZ
        # corr(cu, u) drops from ~0.9 to ~0.77)
        "book_dep_base": "original",
        "fa_share_mean": 0.38,  # net fixed assets / total assets
        # within-firm elasticity of current assets (receivables, inventories, cash) with
        # respect to sales relative to net fixed assets (the operating cycle). 0 would make
        # current assets a fixed multiple of net fixed assets, so that total assets fall one
        # for one with the book value of capital that utilization depreciates and the
        # paper's size control absorbs ~6 % of the platform effect on u (the paper: 1 %).
        # 1: working capital in proportion to sales. Draws no random numbers.
        # (docs/synthetic_world.md, "Current assets and the size control")
        "current_assets_sales_elasticity": 1.0,
        # sd of the yearly i.i.d. log noise of current assets around that cycle (inventories,
        # receivables and cash do not follow sales one for one from year to year). Drawn
        # from a child of the production stream (0: no draws). Calibrated with the
        # elasticity on the paper's published Table 2 controls shift and the R² of Tables
        # 2, 3 and 6 (benchmarks/results/controls_calibration.md), not sourced.
        "current_assets_sales_sd": 0.8,
        "leverage_mean": 0.56,
        "paidin_share_mean": 0.30,
        "interest_zero_share": 0.2,
        "interest_log_mean": -3.66,  # ln(interest / fixed assets) when positive
        "interest_log_sd": 1.45,
        "wage_2001": 11.0,  # thousand yuan per worker and year
        "wage_growth": 0.11,
        "newprod_zero_share": 0.75,
        "newprod_sd_year": 1.5,  # ln sd of an innovating firm's yearly new-product share
        "newprod_off_rate": 0.7,  # yearly probability that an innovating firm has none
        "export_intensity_mean": 0.45,
        # within-firm noise of the customs outcomes (Table 6 (4)-(6) have R² 0.61-0.74 with
        # firm effects): stationary sd of the ln export value AR(1) (0.2 before) and yearly
        # sd of ln markets and ln products (0.15 before)
        "export_sd_ar": 0.7,
        "count_sd_year": 0.4,
        # sporadic shipments: each year a firm ships to its main market (main product) and
        # to each other market (product) of its portfolio with this probability; about a
        # third of a firm's secondary destinations, and more of its HS8 products, are not
        # shipped to again the next year in customs panels (docs/synthetic_world.md)
        "market_ship_prob": 0.7,
        "product_ship_prob": 0.6,
    },
    "utilization": {
        # u = 1 - exp(x): the slack 1 - u is log-normal (left-skewed u, as in Table 1);
        # the sd parameters below are in log-slack units
        "target_mean": 0.7381,  # Table 1, analysis sample
        "c_alpha": 0.2,  # log slack on alpha (per sd): source of the pooled-OLS bias
        # firm effect, AR(1) and random walk share the within-firm variance: sd(u) stays at
        # Table 1's 0.126 (0.30 / 0.24 / 0 before the random walk was added)
        "sd_firm": 0.22,
        "rho": 0.5,
        "sd_ar": 0.15,  # stationary sd of the AR(1) component
        "sd_ind_year": 0.06,
        "sd_city_year": 0.06,
        # innovation sd of a firm-level random walk (persistent shocks that firm effects do
        # not remove; serially correlated residuals, the main source of clustered s.e.)
        "sd_rw": 0.10,
        "u_min": 0.05,
        "u_max": 0.995,
    },
    "adoption": {
        "target_share": 0.1026,  # platform firm-years in the analysis sample (Table 1)
        "trend": 0.12,  # growth of the baseline hazard per year
        "gamma_alpha": 0.8,  # per sd of alpha
        "gamma_iv": 0.35,  # per sd of (1/distance) x IT revenue(t-1)
        "gamma_eco": 4.0,  # per unit of the local member share (t-1)
        # where the platform ecosystem acts: county (varies within a city, so the Bartik
        # instrument survives the city x year fixed effects) | city
        "eco_level": "county",
        "sd_city_eco": 0.3,  # city ecosystem effect (Bartik variation)
        "late_years": 9,  # simulate joins up to 2024 (list scraped 2024)
        "mic_target_share": 0.06,
        "mic_gamma_alpha": 0.5,
        "mic_trend": 0.08,
        "rating_missing_share": 0.35,
    },
    "effects": {
        "tau_cu": 0.09,  # Table 2
        "tau_ict": 0.04,
        "tau_old": 0.03,
        "tau_score": 0.02,
        "dynamic_slope": 0.0,
        # sd of an idiosyncratic firm-level platform effect on u (returns to the platform
        # differ between firms beyond ICT, tenure and rating; centred over the treated)
        "tau_cu_sd": 0.15,
        "tau_mic": 0.045,  # Table 3 (1)
        "tau_tfp": 0.13,  # Table 6 (1)
        "tau_export": 0.257,  # ln export value, Table 6 (4)
        "tau_markets": 0.218,  # ln number of markets, Table 6 (5)
        "tau_products": 0.154,  # ln number of products, Table 6 (6)
        "tau_newprod": 0.106,  # new product share, Table 6 (3)
        # tau_cu / tau_mic are the realized average effects on the treated ("att") or the
        # estimand of the paper's TWFE regression on the true u ("twfe")
        "calibrate_to": "twfe",
    },
    "customs": {
        # export rows per party-year (transactions: product x destination x month x mode).
        # Real customs has ~100-150 per exporter (10-30 million rows a year); the presets
        # stay smaller, the full preset at real volume: rows_per_party_mean 150,
        # max_rows_per_party 20000 (docs/synthetic_world.md, "Presets and performance")
        "rows_per_party_mean": 12.0,
        # years delivered as GBK CSV (2001-2006 header vintage), as researchers receive the
        # early years; the others are parquet. The workflow reads them through
        # inputs.customs_by_year (cbec.config.synthetic_csv_inputs)
        "csv_years": list(SYNTHETIC_CSV_YEARS),
        "max_rows_per_party": 400,
        "intermediary_share": 0.35,  # intermediaries per direct exporter
        # intermediated years: in a share of its years a direct exporter hands part of its
        # secondary markets and products to a trading company (mixed direct and indirect
        # exporting; they vanish from its own customs record that year)
        "intermediary_year_rate": 0.2,
        "intermediary_routed_share": 0.5,
        "intermediary_sibling_share": 0.3,  # intermediaries sharing a manufacturer's core
        "import_share": 0.1,  # import rows (进出口标志 = 进口) mixed in
        "phone_same_share": 0.6,
        "zip_same_share": 0.85,
        "sd_export_noise": 0.25,
    },
    "names": {
        "customs_fullwidth": 0.3,
        "customs_bracket_place": 0.1,
        "customs_suffix_variant": 0.1,
        "customs_drop_prefix": 0.08,
        "customs_typo": 0.01,
        "member_old_name": 0.15,
        "member_traditional": 0.03,
        "member_typo": 0.02,
        "member_suffix_variant": 0.08,
        "member_bracket_place": 0.05,
        "member_space": 0.02,
        # listings that are not the registered Chinese name (docs/synthetic_world.md,
        # "Customs and members"): no Chinese name, only the English / pinyin one; a short
        # trade name without the administrative suffix; a related trading company
        # (宁波海天进出口有限公司); an address (and zip) in another city
        "member_english_only": 0.25,
        "member_short_name": 0.12,
        "member_trading_arm": 0.06,
        "member_other_address": 0.10,
        "unmatchable_share": 0.04,  # renamed beyond recognition
    },
    "members": {
        "scrape_date": "2024-06-30",
        "launch_year": 1999,  # the platforms' first year: no membership is older
        "non_manufacturer_share": 0.35,  # trading companies etc. per listed manufacturer
        "branch_share": 0.04,  # 分公司 rows per listed manufacturer
        "lapsed_share": 0.02,  # true members missing from the scrape
        "mic_non_manufacturer_share": 0.4,
    },
    "data_errors": {
        "small_employment_share": 0.012,  # employees < 8 (cleaning drops)
        "bad_found_year_share": 0.004,
        "missing_sales_share": 0.003,
        "duplicate_code_share": 0.001,
        "hyphen_code_share": 0.01,  # 法人代码 written as XXXXXXXX-X
        "missing_value_added_years": [2008, 2009, 2010],
    },
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, val in over.items():
        if key not in base:
            raise KeyError(f"unknown synthetic parameter: {key}")
        if isinstance(base[key], dict) and key != "presets":
            if not isinstance(val, dict):
                raise TypeError(f"synthetic parameter {key} must be a mapping")
            out[key] = _merge(base[key], val)
        elif key == "presets":
            merged = copy.deepcopy(base[key])
            for name, spec in val.items():
                merged[name] = {**merged.get(name, {}), **spec}
            out[key] = merged
        else:
            out[key] = copy.deepcopy(val)
    return out


def resolve_params(params: dict[str, Any] | None, preset: str) -> dict[str, Any]:
    """Complete a (possibly partial) `synthetic` block with defaults; attach the preset."""
    full = _merge(DEFAULTS, params or {})
    if preset not in full["presets"]:
        raise KeyError(f"unknown preset {preset!r}; known: {sorted(full['presets'])}")
    full["preset"] = preset
    full["n_firms_2001"] = int(full["presets"][preset]["n_firms_2001"])
    return full


def year_targets(p: dict[str, Any]) -> list[int]:
    """Number of ASIF firms per year 2001..2015."""
    return [int(round(p["n_firms_2001"] * f)) for f in p["year_profile"]]


def planned_customs_rows(p: dict[str, Any]) -> dict[int, int]:
    """The customs transaction rows the world plans to write per year 2001..2015 (export and
    import rows), from the parameters alone, before anything is simulated: the year's firms
    (:func:`year_targets`) times the ownership-weighted export probability, plus
    intermediaries, times the mean rows per party. An approximation (the export tilts on
    size and firm effect are left out) used only to decide which years share a job
    (:mod:`cbec.data.batches`); tests hold it to the rows the world writes."""
    o, c = p["ownership"], p["customs"]
    kinds = ("state", "collective", "hmt", "foreign")
    share = sum(o[f"p_{k}"] * o[f"p_export_{k}"] for k in kinds)
    share += (1 - sum(o[f"p_{k}"] for k in kinds)) * o["p_export_private"]
    per_party = min(c["rows_per_party_mean"], c["max_rows_per_party"])
    per_firm = share * (1 + c["intermediary_share"]) * per_party / (1 - c["import_share"])
    return {y: int(round(n * per_firm)) for y, n in zip(YEARS, year_targets(p), strict=True)}
