"""Variable, fixed-effect, statistic and table labels in English and in the paper's Chinese.

Regression rows in the paper use the variable codes (``platform``, ``lnqygm``) while column
headers use descriptive names (企业产能利用率); both styles are available through
:func:`var_label` (``style="code"`` / ``style="label"``). Interaction terms arrive from
pyfixest as ``"platform:sfhighict"`` and are shown as ``"platform × sfhighict"``.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "CONTROLS",
    "DEFAULT_TITLES",
    "ESTIMATORS",
    "FE_LABELS",
    "STAT_LABELS",
    "TEXT",
    "TREATMENTS",
    "VARIABLES",
    "canonical_fe",
    "estimator_label",
    "fe_label",
    "fe_sort_key",
    "split_fixed_effects",
    "stat_label",
    "text",
    "title_for",
    "var_label",
]

Lang = Literal["en", "zh"]

# name -> {"en": ..., "zh": ...}; Chinese follows the paper's wording where it has one.
VARIABLES: dict[str, dict[str, str]] = {
    "cu": {"en": "Capacity utilization", "zh": "企业产能利用率"},
    "cu_sfa_cd": {"en": "CU (SFA, Cobb-Douglas)", "zh": "SFA－柯布道格拉斯生产函数"},
    "cu_sfa_tl": {"en": "CU (SFA, translog)", "zh": "SFA－超越对数生产函数"},
    "platform": {"en": "Cross-border e-commerce platform", "zh": "跨境电商平台"},
    "platform_mic": {"en": "Made-in-China.com platform", "zh": "中国制造网"},
    "lnqygm": {"en": "Firm size (ln total assets)", "zh": "企业规模"},
    "lnage": {"en": "Firm age (ln)", "zh": "企业年龄"},
    "sfgyqy": {"en": "State-owned firm", "zh": "是否国有企业"},
    "sfwzqy": {"en": "Foreign-invested firm", "zh": "是否外资企业"},
    "percs": {"en": "Capital per worker", "zh": "人均资本存量"},
    "fc": {"en": "Financing constraint", "zh": "融资约束"},
    "tfp_lp": {"en": "TFP (LP)", "zh": "LP－TFP"},
    "tfp_op": {"en": "TFP (OP)", "zh": "OP－TFP"},
    "newprod_share": {"en": "New product share of output", "zh": "新产品产值/工业总产值"},
    "ln_export": {"en": "Export value (ln)", "zh": "企业出口额"},
    "n_markets": {"en": "Number of export markets", "zh": "企业出口市场数量"},
    "n_products": {"en": "Number of export products", "zh": "企业出口产品数量"},
    "sfhighict": {"en": "High ICT infrastructure", "zh": "网络基础设施建设水平"},
    "sfold": {"en": "Early joiner", "zh": "平台“先行者”"},
    "sfhighscore": {"en": "High rating", "zh": "企业信誉评价"},
    "iv_dist": {
        "en": "IV1: proximity to Hangzhou × IT service revenue",
        "zh": "IV1:与杭州距离倒数×信息技术服务收入",
    },
    "iv_bartik": {"en": "IV2: Bartik (shift-share)", "zh": "IV2:Bartik工具变量"},
}

# Treatment variables (listed first in regression tables).
TREATMENTS: tuple[str, ...] = ("platform", "platform_mic")
# The paper's control variables (hidden behind a "Controls" row when requested).
CONTROLS: tuple[str, ...] = ("lnqygm", "lnage", "percs", "sfgyqy", "sfwzqy", "fc")

# Fixed effects as pyfixest writes them (``a^b`` = interacted) -> labels; the order of this
# dict is the row order in tables.
FE_LABELS: dict[str, dict[str, str]] = {
    "firm_id": {"en": "Firm FE", "zh": "企业固定效应"},
    "ind2^year": {"en": "Industry×year FE", "zh": "行业时间固定效应"},
    "city^year": {"en": "City×year FE", "zh": "地区时间固定效应"},
    "province^year": {"en": "Province×year FE", "zh": "省份时间固定效应"},
    "year": {"en": "Year FE", "zh": "年份固定效应"},
    "ind2": {"en": "Industry FE", "zh": "行业固定效应"},
    "city": {"en": "City FE", "zh": "地区固定效应"},
    "province": {"en": "Province FE", "zh": "省份固定效应"},
}
_FE_ALIASES = {
    "year^ind2": "ind2^year",
    "year^city": "city^year",
    "year^province": "province^year",
    "city_code^year": "city^year",
    "year^city_code": "city^year",
    "province_code^year": "province^year",
}
_FE_PARTS = {
    "firm_id": {"en": "Firm", "zh": "企业"},
    "ind2": {"en": "Industry", "zh": "行业"},
    "city": {"en": "City", "zh": "地区"},
    "province": {"en": "Province", "zh": "省份"},
    "year": {"en": "year", "zh": "时间"},
}

# Known entries of a column's "stats"; the order of this dict is the row order in tables.
STAT_LABELS: dict[str, dict[str, str]] = {
    "kp_lm": {"en": "Kleibergen-Paap rk LM statistic", "zh": "Kleibergen-Paap rk LM统计量"},
    "kp_lm_p": {"en": "Kleibergen-Paap rk LM p-value", "zh": "Kleibergen-Paap rk LM统计量p值"},
    "kp_wald_f": {
        "en": "Kleibergen-Paap rk Wald F statistic",
        "zh": "Kleibergen-Paap rk Wald F统计量",
    },
    "eff_f": {"en": "Effective F (Montiel Olea-Pflueger)", "zh": "有效F统计量(MOP)"},
    "first_stage_f": {"en": "First-stage F statistic", "zh": "第一阶段F统计量"},
    "ar_ci": {"en": "Anderson-Rubin 95% set", "zh": "Anderson-Rubin 95%置信集"},
    "ar_p": {"en": "Anderson-Rubin p-value", "zh": "Anderson-Rubin p值"},
    "wild_p": {"en": "Wild-bootstrap p-value", "zh": "Wild bootstrap p值"},
    "wild_ci": {"en": "Wild-bootstrap 95% CI", "zh": "Wild bootstrap 95%置信区间"},
    "r2_within": {"en": "Within R²", "zh": "组内R²"},
    "n_clusters": {"en": "Clusters", "zh": "聚类数"},
    "depvar_mean": {"en": "Mean of dependent variable", "zh": "被解释变量均值"},
}

ESTIMATORS: dict[str, dict[str, str]] = {
    "feols": {"en": "OLS", "zh": "OLS"},
    "iv2sls": {"en": "2SLS", "zh": "2SLS"},
    "first_stage": {"en": "First stage", "zh": "第一阶段"},
}

# Fixed interface strings.
TEXT: dict[str, dict[str, str]] = {
    "variable": {"en": "Variable", "zh": "变量"},
    "depvar": {"en": "Dependent variable", "zh": "被解释变量"},
    "estimator": {"en": "Estimator", "zh": "估计方法"},
    "controls": {"en": "Controls", "zh": "控制变量"},
    "yes": {"en": "Yes", "zh": "控制"},
    "no": {"en": "No", "zh": "未控制"},
    "nobs": {"en": "Observations", "zh": "观测值"},
    "r2": {"en": "R²", "zh": "R²"},
    "table": {"en": "Table", "zh": "表"},
    "notes": {"en": "Notes:", "zh": "注:"},
    "n": {"en": "Obs.", "zh": "观测值"},
    "mean": {"en": "Mean", "zh": "均值"},
    "sd": {"en": "S.D.", "zh": "标准差"},
    "max": {"en": "Max", "zh": "最大值"},
    "min": {"en": "Min", "zh": "最小值"},
}

DEFAULT_TITLES: dict[str, dict[str, str]] = {
    "table1": {"en": "Descriptive statistics of the main variables", "zh": "主要变量的描述性统计"},
    "table2": {"en": "Baseline regressions", "zh": "基准回归结果"},
    "table3": {"en": "Robustness: alternative measures", "zh": "指标替换的稳健性检验"},
    "table4": {"en": "Propensity-score matching estimates", "zh": "倾向得分匹配估计"},
    "table5": {"en": "Instrumental-variable estimates", "zh": "工具变量估计"},
    "table6": {"en": "Mechanism tests", "zh": "机制检验"},
    "table7": {"en": "Heterogeneity analysis", "zh": "异质性分析"},
}


def text(key: str, lang: Lang = "en") -> str:
    """A fixed interface string (``TEXT[key][lang]``)."""
    return TEXT[key][lang]


def var_label(name: str, lang: Lang = "en", style: Literal["code", "label"] = "label") -> str:
    """Label of a variable; interactions ``a:b`` become ``a × b`` (each part labelled).

    ``style="code"`` keeps the variable codes (as the paper's regression rows do);
    ``style="label"`` uses the descriptive names. Unknown names are returned unchanged.
    """
    parts = name.split(":")
    if style == "code":
        return " × ".join(parts)
    return " × ".join(VARIABLES.get(p, {}).get(lang, p) for p in parts)


def fe_label(fe: str, lang: Lang = "en") -> str:
    """Row label of a fixed effect (``firm_id``, ``ind2^year``, ``city^year``, ...)."""
    key = _FE_ALIASES.get(fe, fe)
    if key in FE_LABELS:
        return FE_LABELS[key][lang]
    parts = key.split("^")
    named = [_FE_PARTS.get(p, {}).get(lang, p) for p in parts]
    if lang == "zh":
        return "".join(named) + "固定效应"
    return "×".join(named) + " FE"


def fe_sort_key(fe: str) -> tuple[int, str]:
    """Order of fixed-effect rows: the known ones in ``FE_LABELS`` order, then alphabetical."""
    key = _FE_ALIASES.get(fe, fe)
    order = list(FE_LABELS)
    return (order.index(key), "") if key in order else (len(order), key)


def canonical_fe(fe: str) -> str:
    """Canonical spelling of a fixed effect (``year^ind2`` -> ``ind2^year``)."""
    return _FE_ALIASES.get(fe.strip(), fe.strip())


def split_fixed_effects(fe: list[str] | str | None) -> list[str]:
    """Fixed effects as a list: accepts a list or a pyfixest string ``"a+b^c"``."""
    if fe is None:
        return []
    if isinstance(fe, str):
        fe = [f for f in fe.split("+") if f.strip() and f.strip() != "0"]
    return [canonical_fe(f) for f in fe]


def stat_label(key: str, lang: Lang = "en") -> str:
    """Row label of a statistic; unknown keys are returned unchanged."""
    return STAT_LABELS[key][lang] if key in STAT_LABELS else key


def estimator_label(estimator: str, lang: Lang = "en") -> str:
    """Short label of an estimator (``feols`` -> OLS, ``iv2sls`` -> 2SLS, ...)."""
    return ESTIMATORS.get(estimator, {}).get(lang, estimator)


def title_for(table: str, lang: Lang = "en") -> str | None:
    """The paper's title of ``table`` (``"table2"``) in ``lang``, if known."""
    return DEFAULT_TITLES.get(table, {}).get(lang)
