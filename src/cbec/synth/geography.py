"""Real prefecture-level cities and counties (cpca's adcodes.csv), distances to Hangzhou."""

from __future__ import annotations

import pathlib

import numpy as np
import polars as pl

HANGZHOU = "3301"
MUNICIPALITIES = {"11": "1101", "12": "1201", "31": "3101", "50": "5001"}
EXCLUDED_PROVINCES = {"71", "81", "82"}

PROVINCE_NAMES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
}  # fmt: skip

# first two digits of postal codes by province (real ranges; Inner Mongolia, Shanxi and
# Hebei start with 0, hence zero-padding matters)
PROVINCE_ZIP = {
    "11": "10", "12": "30", "13": "05", "14": "03", "15": "01", "21": "11", "22": "13",
    "23": "15", "31": "20", "32": "21", "33": "31", "34": "23", "35": "35", "36": "33",
    "37": "25", "41": "45", "42": "43", "43": "41", "44": "51", "45": "53", "46": "57",
    "50": "40", "51": "61", "52": "55", "53": "65", "54": "85", "61": "71", "62": "73",
    "63": "81", "64": "75", "65": "83",
}  # fmt: skip

# share of manufacturing firms by province (coastal export provinces dominate)
PROVINCE_WEIGHT = {
    "44": 0.17, "33": 0.16, "32": 0.16, "37": 0.09, "31": 0.06, "35": 0.05, "12": 0.02,
    "11": 0.02, "13": 0.03, "21": 0.03, "41": 0.03, "34": 0.02, "42": 0.02, "43": 0.02,
    "36": 0.02, "51": 0.02, "50": 0.01, "14": 0.01, "15": 0.006, "22": 0.008, "23": 0.008,
    "45": 0.008, "46": 0.002, "52": 0.004, "53": 0.006, "54": 0.0005, "61": 0.008,
    "62": 0.004, "63": 0.001, "64": 0.002, "65": 0.004,
}  # fmt: skip

KNOWN_AREA_CODES = {
    "1101": "010", "3101": "021", "1201": "022", "5001": "023", "4401": "020",
    "4403": "0755", "3301": "0571", "3302": "0574", "3201": "025", "3205": "0512",
    "4406": "0757", "4419": "0769", "3502": "0592", "3702": "0532", "3307": "0579",
}  # fmt: skip


def adcodes_path() -> pathlib.Path:
    import cpca

    return pathlib.Path(cpca.__file__).parent / "resources" / "adcodes.csv"


def _short_name(name: str) -> str:
    for suffix in ("土家族苗族自治州", "藏族羌族自治州", "自治州", "地区", "市", "盟"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)][:4] if suffix != "自治州" else name[:2]
    return name[:2] if len(name) > 4 else name


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km (vectorized)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def load_geography(rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cities (4-digit) and counties (6-digit) with coordinates, distance to Hangzhou,
    firm-location weights, area codes and zip prefixes."""
    raw = _read_adcodes()
    cities = _cities(raw)
    counties = _counties(raw, cities)
    hz = cities.filter(pl.col("city_code") == HANGZHOU).row(0, named=True)
    n = cities.height
    weight, area, zip_prefix = _city_attributes(rng, cities)
    cities = cities.with_columns(
        dist_hangzhou_km=pl.Series(
            haversine_km(cities["lon"].to_numpy(), cities["lat"].to_numpy(), hz["lon"], hz["lat"])
        ),
        weight=pl.Series(weight),
        area_code=pl.Series(area),
        zip_prefix=pl.Series(zip_prefix),
        city_idx=pl.Series(np.arange(n, dtype=np.int64)),
    )
    counties = counties.with_columns(
        dist_hangzhou_km=pl.Series(
            haversine_km(
                counties["lon"].to_numpy(), counties["lat"].to_numpy(), hz["lon"], hz["lat"]
            )
        ).clip(lower_bound=15.0)
    ).join(cities.select("city_code", "city_idx"), on="city_code", maintain_order="left")
    counties = counties.sort("county_code")
    return cities, counties


def _read_adcodes() -> pl.DataFrame:
    """Province, city and county level rows of cpca's adcodes.csv with coordinates."""
    raw = pl.read_csv(adcodes_path(), infer_schema_length=0).with_columns(
        pl.col("longitude").cast(pl.Float64), pl.col("latitude").cast(pl.Float64)
    )
    return raw.with_columns(
        prov=pl.col("adcode").str.slice(0, 2),
        cc=pl.col("adcode").str.slice(2, 2),
        xx=pl.col("adcode").str.slice(4, 2),
        rest=pl.col("adcode").str.slice(6, 6),
    ).filter(
        (pl.col("rest") == "000000")
        & ~pl.col("prov").is_in(list(EXCLUDED_PROVINCES))
        & pl.col("longitude").is_not_null()
    )


def _cities(raw: pl.DataFrame) -> pl.DataFrame:
    """Prefecture-level cities; the four municipalities folded into one city each."""
    muni = pl.col("prov").is_in(list(MUNICIPALITIES))
    cities = raw.filter(~muni & (pl.col("cc") != "00") & (pl.col("xx") == "00"))
    cities = cities.select(
        city_code=pl.col("prov") + pl.col("cc"),
        city_name=pl.col("name"),
        province_code=pl.col("prov"),
        lon=pl.col("longitude"),
        lat=pl.col("latitude"),
    )
    muni_rows = raw.filter(muni & (pl.col("cc") == "00")).select(
        city_code=pl.col("prov").replace_strict(MUNICIPALITIES),
        city_name=pl.col("name"),
        province_code=pl.col("prov"),
        lon=pl.col("longitude"),
        lat=pl.col("latitude"),
    )
    cities = pl.concat([cities, muni_rows]).filter(
        pl.col("province_code").is_in(list(PROVINCE_NAMES))
    )
    return cities.sort("city_code").with_columns(
        province_name=pl.col("province_code").replace_strict(PROVINCE_NAMES),
        short_name=pl.col("city_name").map_elements(_short_name, return_dtype=pl.String),
    )


def _counties(raw: pl.DataFrame, cities: pl.DataFrame) -> pl.DataFrame:
    """Counties of the cities; a city without listed counties gets a pseudo county PPCC00
    at the city seat."""
    muni = pl.col("prov").is_in(list(MUNICIPALITIES))
    counties = raw.filter((pl.col("cc") != "00") & (pl.col("xx") != "00")).select(
        county_code=pl.col("prov") + pl.col("cc") + pl.col("xx"),
        county_name=pl.col("name"),
        city_code=pl.when(muni)
        .then(pl.col("prov").replace_strict(MUNICIPALITIES, default=None))
        .otherwise(pl.col("prov") + pl.col("cc")),
        lon=pl.col("longitude"),
        lat=pl.col("latitude"),
    )
    counties = counties.filter(
        pl.col("city_code").is_in(cities["city_code"].implode())
        & ~pl.col("county_name").is_in(["市辖区", "县"])
    ).sort("county_code")
    missing = cities.filter(~pl.col("city_code").is_in(counties["city_code"].unique().implode()))
    return pl.concat(
        [
            counties,
            missing.select(
                county_code=pl.col("city_code") + "00",
                county_name=pl.col("city_name"),
                city_code="city_code",
                lon="lon",
                lat="lat",
            ),
        ]
    ).sort("county_code")


def _city_attributes(
    rng: np.random.Generator, cities: pl.DataFrame
) -> tuple[np.ndarray, list[str], list[str]]:
    """Firm-location weight (province weight x log-normal within the province), telephone
    area code (known ones, others synthetic unique 0 + 3 digits) and zip prefix of each
    city."""
    n = cities.height
    prov = cities["province_code"].to_numpy()
    prov_w = np.array([PROVINCE_WEIGHT.get(p, 0.001) for p in prov])
    within = rng.lognormal(0.0, 0.8, n)
    within_sum = np.zeros(n)
    for p_code in set(prov):  # loop over provinces (31), not firms
        m = prov == p_code
        within_sum[m] = within[m].sum()
    weight = prov_w * within / within_sum
    weight = weight / weight.sum()
    codes = cities["city_code"].to_list()
    pool = [f"0{x}" for x in rng.permutation(np.arange(350, 999))]
    used = set(KNOWN_AREA_CODES.values())
    pool = [c for c in pool if c not in used]
    area = [KNOWN_AREA_CODES.get(c) or pool[i] for i, c in enumerate(codes)]
    zip_prefix = [
        PROVINCE_ZIP[p] + f"{int(c[2:4]) % 100:02d}" for p, c in zip(prov, codes, strict=True)
    ]
    return weight, area, zip_prefix
