"""Chinese firm names from pieces (prefix + core + industry word + suffix) and name noise.

Everything is vectorized: pieces are sampled as integer indices into small vocabularies and
joined with polars string expressions; noise acts on the pieces before joining.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

CORE_CHARS = (
    "华兴达宏鑫盛福利泰恒源昌隆祥瑞金新美佳宝天海龙凯博联创德信诚永安康丰远大中东西南北"
    "明光辉通力强胜江山川林森峰宇航星亚欧皇冠豪雅丽艺景鸿鹏飞腾跃翔飘奥迪威盈润泽洋"
    "立正和合嘉益晶晟旺鼎顺捷捷巨群众友邦家国民生富贵荣耀成汇聚仁义礼智浩瀚海宁波涛"
    "春秋夏冬晨阳日月云雨霖露霞彩虹红绿蓝青紫白银铜铁钢石玉珠翠翡晶亮辰昊昕晖骏驰"
    "锦绣纬经纺织新时代世纪环球万千百一二三四五六七八九宏图开拓前进先锋精工巧匠"
)
CORE_CHARS = "".join(dict.fromkeys(CORE_CHARS))  # unique, stable order

# industry words (Chinese, English) per CIC 2-digit industry
INDUSTRY_WORDS: dict[str, list[tuple[str, str]]] = {
    "13": [("食品", "Food"), ("粮油", "Grain and Oil"), ("饲料", "Feed"), ("米业", "Rice")],
    "14": [("食品", "Food"), ("调味品", "Seasoning"), ("乳业", "Dairy")],
    "15": [("酒业", "Winery"), ("饮料", "Beverage"), ("茶业", "Tea")],
    "16": [("烟草", "Tobacco"), ("卷烟", "Cigarette")],
    "17": [
        ("纺织", "Textile"),
        ("织造", "Weaving"),
        ("印染", "Printing and Dyeing"),
        ("丝绸", "Silk"),
    ],
    "18": [("服装", "Garment"), ("服饰", "Apparel"), ("制衣", "Clothing")],
    "19": [("皮革", "Leather"), ("鞋业", "Shoes"), ("箱包", "Bags"), ("皮件", "Leather Goods")],
    "20": [("木业", "Wood"), ("竹木", "Bamboo and Wood"), ("板业", "Board")],
    "21": [("家具", "Furniture"), ("家居", "Home Furnishing")],
    "22": [("纸业", "Paper"), ("包装", "Packaging")],
    "23": [("印刷", "Printing"), ("彩印", "Color Printing")],
    "24": [
        ("文具", "Stationery"),
        ("玩具", "Toys"),
        ("体育用品", "Sporting Goods"),
        ("工艺", "Crafts"),
    ],
    "25": [("石化", "Petrochemical"), ("能源", "Energy")],
    "26": [
        ("化工", "Chemical"),
        ("化学", "Chemical"),
        ("涂料", "Coatings"),
        ("日化", "Daily Chemical"),
    ],
    "27": [("制药", "Pharmaceutical"), ("药业", "Pharmaceutical"), ("生物", "Biotech")],
    "28": [("化纤", "Chemical Fiber"), ("纤维", "Fiber")],
    "29": [("橡胶", "Rubber"), ("轮胎", "Tyre")],
    "30": [("塑料", "Plastic"), ("塑胶", "Plastic"), ("塑业", "Plastics")],
    "31": [
        ("建材", "Building Materials"),
        ("陶瓷", "Ceramics"),
        ("玻璃", "Glass"),
        ("水泥", "Cement"),
    ],
    "32": [("钢铁", "Steel"), ("特钢", "Special Steel")],
    "33": [("铝业", "Aluminium"), ("铜业", "Copper"), ("金属材料", "Metal Materials")],
    "34": [("五金", "Hardware"), ("金属制品", "Metal Products"), ("工具", "Tools")],
    "35": [("机械", "Machinery"), ("机电", "Mechanical and Electrical"), ("阀门", "Valve")],
    "36": [
        ("设备", "Equipment"),
        ("专用设备", "Special Equipment"),
        ("医疗器械", "Medical Equipment"),
    ],
    "37": [("汽车配件", "Auto Parts"), ("车业", "Vehicle"), ("摩托车", "Motorcycle")],
    "39": [
        ("电器", "Electric Appliance"),
        ("电气", "Electric"),
        ("电机", "Motor"),
        ("电缆", "Cable"),
    ],
    "40": [
        ("电子", "Electronics"),
        ("科技", "Technology"),
        ("通讯", "Communication"),
        ("光电", "Optoelectronics"),
    ],
    "41": [("仪器", "Instrument"), ("仪表", "Meter"), ("光学", "Optical")],
    "42": [("工艺品", "Handicrafts"), ("饰品", "Jewelry"), ("礼品", "Gifts")],
    "43": [("再生资源", "Recycling"), ("环保", "Environmental")],
}

SUFFIXES = ["有限公司", "有限责任公司", "股份有限公司", "厂", "集团有限公司", "实业有限公司"]
SUFFIX_P = [0.64, 0.10, 0.07, 0.08, 0.03, 0.08]
SUFFIX_EN = [
    "Co., Ltd.",
    "Co., Ltd.",
    "Stock Co., Ltd.",
    "Factory",
    "Group Co., Ltd.",
    "Industrial Co., Ltd.",
]
# suffix variants customs / registries write instead (index -> variant index)
SUFFIX_VARIANT = np.array([1, 0, 0, 0, 0, 0])

TRADE_WORDS = ["进出口", "贸易", "经贸", "外贸", "工贸", "科贸", "国际贸易", "实业"]
TRADE_WORDS_EN = [
    "Import and Export",
    "Trading",
    "Economic and Trade",
    "Foreign Trade",
    "Industry and Trade",
    "Sci-Tech Trade",
    "International Trading",
    "Industrial",
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国建华志强文斌海峰国华永红晓东春梅玉兰德明金龙"

FULLWIDTH = {"(": "（", ")": "）", " ": "　", "-": "－"} | {
    c: chr(ord(c) + 0xFEE0)
    for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
}


def _pinyin_map(chars: str) -> dict[str, str]:
    from pypinyin import lazy_pinyin

    return {c: lazy_pinyin(c)[0] for c in chars}


_PY: dict[str, str] | None = None


def traditional_map(text_pool: list[str]) -> dict[str, str]:
    """Simplified -> traditional character map for every character in `text_pool`."""
    import opencc

    conv = opencc.OpenCC("s2t")
    chars = sorted(set("".join(text_pool)))
    out = {}
    for c in chars:  # loop over the vocabulary (hundreds of characters), not over names
        t = conv.convert(c)
        if t != c:
            out[c] = t
    return out


def sample_cores(rng: np.random.Generator, n: int) -> np.ndarray:
    """Index matrix (n, 3) into CORE_CHARS; third column -1 for 2-character cores."""
    m = len(CORE_CHARS)
    idx = rng.integers(0, m, size=(n, 3))
    three = rng.random(n) < 0.25
    idx[~three, 2] = -1
    return idx


def cores_to_str(idx: np.ndarray) -> tuple[pl.Series, pl.Series]:
    """Core strings and their capitalised pinyin from an index matrix."""
    chars = np.array(list(CORE_CHARS) + [""])
    global _PY
    if _PY is None:
        _PY = _pinyin_map(CORE_CHARS)
    py = np.array([_PY[c] for c in CORE_CHARS] + [""])
    cols = [np.where(idx[:, j] < 0, len(CORE_CHARS), idx[:, j]) for j in range(3)]
    df = pl.DataFrame(
        {f"c{j}": chars[c] for j, c in enumerate(cols)}
        | {f"p{j}": py[c] for j, c in enumerate(cols)}
    )
    core = df.select(pl.concat_str(["c0", "c1", "c2"]))[:, 0]
    pin = df.select(pl.concat_str([pl.col("p0").str.to_titlecase(), pl.col("p1"), pl.col("p2")]))[
        :, 0
    ]
    return core, pin


def person_names(rng: np.random.Generator, n: int) -> pl.Series:
    """Legal representatives: surname + 1-2 given characters."""
    s = np.array(list(SURNAMES))[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(list(GIVEN))[rng.integers(0, len(GIVEN), n)]
    g2 = np.array(list(GIVEN) + [""] * 6)[rng.integers(0, len(GIVEN) + 6, n)]
    return pl.DataFrame({"s": s, "g1": g1, "g2": g2}).select(pl.concat_str(["s", "g1", "g2"]))[:, 0]


def assemble(pieces: pl.DataFrame) -> pl.Series:
    """Join name pieces: prefix + core + indword + place + suffix."""
    return pieces.select(
        pl.concat_str(["prefix", "core", "indword", "place", "suffix"], ignore_nulls=True)
    )[:, 0]


# the kinds of noise :func:`noisy_names` applies; a source's probabilities are the names
# block's ``{source}_{kind}`` entries (:func:`noise_of`)
NOISE_KINDS = (
    "fullwidth",
    "bracket_place",
    "suffix_variant",
    "drop_prefix",
    "typo",
    "traditional",
    "space",
)


def noise_of(q: dict[str, Any], source: str) -> dict[str, float]:
    """The :func:`noisy_names` probabilities the names block ``q`` sets for ``source``
    (``"customs"``, ``"member"``): its ``{source}_{kind}`` entries; a kind not set is 0."""
    return {k: q[f"{source}_{k}"] for k in NOISE_KINDS if f"{source}_{k}" in q}


def noisy_names(
    pieces: pl.DataFrame,
    rng: np.random.Generator,
    *,
    fullwidth: float = 0.0,
    bracket_place: float = 0.0,
    suffix_variant: float = 0.0,
    drop_prefix: float = 0.0,
    typo: float = 0.0,
    traditional: float = 0.0,
    space: float = 0.0,
    trad_map: dict[str, str] | None = None,
) -> pl.Series:
    """Names as another source writes them. `pieces` has columns prefix, core, indword,
    place, suffix_idx, city_short; every probability applies independently per row."""
    n = pieces.height
    u = rng.random((n, 7))
    suffix_idx = pieces["suffix_idx"].to_numpy()
    suf = np.where(u[:, 2] < suffix_variant, SUFFIX_VARIANT[suffix_idx], suffix_idx)
    typo_char = np.array(list(CORE_CHARS))[rng.integers(0, len(CORE_CHARS), n)]
    df = pieces.with_columns(
        suffix=pl.Series(np.array(SUFFIXES)[suf]),
        _bp=pl.Series(u[:, 1] < bracket_place),
        _dp=pl.Series(u[:, 3] < drop_prefix),
        _ty=pl.Series(u[:, 4] < typo),
        _tc=pl.Series(typo_char),
        _sp=pl.Series(u[:, 6] < space),
    )
    df = df.with_columns(
        core=pl.when("_ty")
        .then(pl.col("core").str.slice(0, 1) + pl.col("_tc") + pl.col("core").str.slice(2))
        .otherwise("core"),
        # bracketed place: 海天塑料机械(宁波)有限公司 instead of 宁波海天塑料机械有限公司
        place=pl.when("_bp").then("(" + pl.col("city_short") + ")").otherwise("place"),
        prefix=pl.when(pl.col("_bp") | pl.col("_dp")).then(pl.lit("")).otherwise("prefix"),
        indword=pl.when("_sp").then(" " + pl.col("indword")).otherwise("indword"),
    )
    names = assemble(df)
    fw = u[:, 0] < fullwidth
    if fw.any():
        names = pl.Series(
            np.where(fw, names.str.replace_many(FULLWIDTH).to_numpy(), names.to_numpy())
        )
    tr = u[:, 5] < traditional
    if tr.any() and trad_map:
        names = pl.Series(
            np.where(tr, names.str.replace_many(trad_map).to_numpy(), names.to_numpy())
        )
    return names.rename("name")


def english_names(pieces: pl.DataFrame) -> pl.Series:
    """English names as on the platform: City Core Industry Co., Ltd."""
    return pieces.select(
        pl.concat_str(
            [pl.col("city_py"), pl.col("core_py"), pl.col("indword_en"), pl.col("suffix_en")],
            separator=" ",
        )
    )[:, 0]
