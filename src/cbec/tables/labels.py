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
    "HEADERS",
    "NOTES",
    "PAPER_CODES",
    "STAT_LABELS",
    "TEXT",
    "TREATMENTS",
    "VARIABLES",
    "canonical_fe",
    "estimator_label",
    "event_time_label",
    "fe_label",
    "fe_sort_key",
    "header_label",
    "note_text",
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
    "ln_markets": {"en": "Export markets (ln)", "zh": "企业出口市场数量"},
    "ln_products": {"en": "Export products (ln)", "zh": "企业出口产品数量"},
    "asset_turnover": {"en": "Asset turnover", "zh": "资产周转率"},
    "leverage": {"en": "Leverage", "zh": "资产负债率"},
    "ln_assets": {"en": "Total assets (ln)", "zh": "总资产(对数)"},
    "ind_conc": {"en": "Industry concentration", "zh": "行业集中度"},
    "logit_pscore": {"en": "Propensity score (logit)", "zh": "倾向得分(logit)"},
    "att": {"en": "Average effect after joining (ATT)", "zh": "加入平台后的平均处理效应"},
    "sfhighict": {"en": "High ICT infrastructure", "zh": "网络基础设施建设水平"},
    "sfold": {"en": "Early joiner", "zh": "平台“先行者”"},
    "sfhighscore": {"en": "High rating", "zh": "企业信誉评价"},
    "iv_dist": {
        "en": "IV1: proximity to Hangzhou × IT service revenue",
        "zh": "IV1:与杭州距离倒数×信息技术服务收入",
    },
    "iv_bartik": {"en": "IV2: Bartik (shift-share)", "zh": "IV2:Bartik工具变量"},
}

# The variable codes the paper itself prints in its regression rows; every other name is
# shown by its label, also with ``style="code"``.
PAPER_CODES: frozenset[str] = frozenset(
    {"platform", "lnqygm", "lnage", "sfgyqy", "sfwzqy", "percs", "fc"}
    | {"sfhighict", "sfold", "sfhighscore", "cu"}
)

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
    "pretrend_f": {"en": "Pre-trend F", "zh": "事前趋势F统计量"},
    "pretrend_p": {"en": "Pre-trend p", "zh": "事前趋势检验p值"},
    "depvar_mean": {"en": "Mean of dependent variable", "zh": "被解释变量均值"},
    "n_clusters": {"en": "Clusters", "zh": "聚类数"},
    "se_type": {"en": "Standard errors", "zh": "标准误类型"},
    "r2_adj": {"en": "Adjusted R²", "zh": "调整R²"},
    "r2_within": {"en": "Within R²", "zh": "组内R²"},
    "wild_p": {"en": "Wild-bootstrap p-value", "zh": "Wild bootstrap p值"},
    "wild_ci": {"en": "Wild-bootstrap 95% CI", "zh": "Wild bootstrap 95%置信区间"},
}
# statistics that are p-values (printed as "<0.001" below 0.001)
P_VALUE_STATS: frozenset[str] = frozenset({"kp_lm_p", "pretrend_p", "wild_p", "ar_p"})
# statistics that are counts (printed with thousands separators)
COUNT_STATS: frozenset[str] = frozenset({"n_clusters"})

ESTIMATORS: dict[str, dict[str, str]] = {
    "feols": {"en": "OLS", "zh": "OLS"},
    "iv2sls": {"en": "2SLS", "zh": "2SLS"},
    "first_stage": {"en": "First stage", "zh": "第一阶段"},
    "feols_weighted": {"en": "Weighted OLS, matched sample", "zh": "匹配样本加权OLS"},
    "twfe": {"en": "Dynamic TWFE", "zh": "动态双向固定效应"},
    "sun_abraham": {"en": "Sun-Abraham", "zh": "Sun-Abraham估计"},
    "did2s": {"en": "Two-stage DiD (Gardner)", "zh": "两阶段双重差分(Gardner)"},
    "static_twfe": {"en": "Static TWFE", "zh": "静态双向固定效应"},
}

# Column headers written in config.yaml (English) -> both languages; a header not listed
# here is shown as written.
HEADERS: dict[str, dict[str, str]] = {
    "No firm FE": {"en": "No firm FE", "zh": "无企业固定效应"},
    "Made-in-China.com": {"en": "Made-in-China.com", "zh": "中国制造网"},
    "SFA Cobb-Douglas": {"en": "SFA Cobb-Douglas", "zh": "SFA－柯布道格拉斯生产函数"},
    "SFA translog": {"en": "SFA translog", "zh": "SFA－超越对数生产函数"},
    "NN 1:1": {"en": "Nearest neighbour 1:1", "zh": "1:1近邻匹配"},
    "NN 1:3": {"en": "Nearest neighbour 1:3", "zh": "1:3近邻匹配"},
    "Sequential": {"en": "Sequential (region × industry)", "zh": "逐步匹配(地区×行业)"},
    "Distance to Hangzhou x IT revenue": {
        "en": "Distance to Hangzhou × IT revenue",
        "zh": "与杭州距离×信息技术服务收入",
    },
    "Bartik": {"en": "Bartik", "zh": "Bartik工具变量"},
    "ICT infrastructure": {"en": "ICT infrastructure", "zh": "网络基础设施建设水平"},
    "Early and late joiners": {"en": "Early and late joiners", "zh": "“先行者”与“后进者”"},
    "Rating": {"en": "Rating", "zh": "企业信誉评价"},
    "Static TWFE": {"en": "Static TWFE", "zh": "静态双向固定效应"},
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
    "ci": {"en": "95% CI", "zh": "95%置信区间"},
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


# The notes the estimation code writes in English -> both languages.
NOTES: dict[str, dict[str, str]] = {
    "Nearest-neighbour matching on the logit of the propensity score, with replacement; "
    "regressions weighted by the number of times a control is used": {
        "en": "Nearest-neighbour matching on the logit of the propensity score, with "
        "replacement; regressions weighted by the number of times a control is used.",
        "zh": "基于倾向得分logit值的有放回近邻匹配;回归以对照企业被使用的次数加权。",
    },
    "Nearest-neighbour matching on the logit of the propensity score, with replacement": {
        "en": "Nearest-neighbour matching on the logit of the propensity score, with replacement.",
        "zh": "基于倾向得分logit值的有放回近邻匹配。",
    },
}


def note_text(note: str, lang: Lang = "en") -> str:
    """A note written by the estimation code, in ``lang`` when :data:`NOTES` knows it."""
    key = note.strip().rstrip(".")
    return NOTES.get(key, {}).get(lang, note)


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
        return " × ".join(p if p in PAPER_CODES else _label_or_code(p, lang) for p in parts)
    return " × ".join(_label_or_code(p, lang) for p in parts)


def _label_or_code(name: str, lang: Lang) -> str:
    if name in VARIABLES:
        return VARIABLES[name][lang]
    rel = event_time_label(name, lang)
    return rel if rel is not None else name


def event_time_label(
    name: str, lang: Lang = "en", window: tuple[int, int] | None = None
) -> str | None:
    """``rel_-3`` -> "−3" (``window``'s endpoints pool: "−5 and earlier", "5 and later");
    None for a name that is not an event-time coefficient."""
    if not name.startswith("rel_"):
        return None
    try:
        k = int(name[4:])
    except ValueError:
        return None
    num = f"−{-k}" if k < 0 else str(k)
    if window is not None and k == window[0]:
        return f"{num}及更早" if lang == "zh" else f"{num} and earlier"
    if window is not None and k == window[1]:
        return f"{num}及更晚" if lang == "zh" else f"{num} and later"
    return num


def header_label(header: object, lang: Lang = "en") -> str | None:
    """A column header from config.yaml in ``lang``: ``{"en": .., "zh": ..}`` or a string
    (translated when :data:`HEADERS` knows it)."""
    if header is None or header == "":
        return None
    if isinstance(header, dict):
        got = header.get(lang) or header.get("en")
        return None if got is None else str(got)
    return HEADERS.get(str(header), {}).get(lang, str(header))


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
