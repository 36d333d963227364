"""GB/T 2260 administrative division codes that Jiayuan needs to know by name.

The province level is complete (an ID number's first two digits must be one of them);
below it, the codes of Jining (济宁市) and a handful of cities that migrants to Wenshang
commonly come from, which the demo county uses for hukou variety.
"""

from __future__ import annotations

PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip

COUNTIES: dict[str, str] = {
    "370800": "济宁市",
    "370811": "济宁市任城区",
    "370812": "济宁市兖州区",
    "370826": "济宁市微山县",
    "370827": "济宁市鱼台县",
    "370828": "济宁市金乡县",
    "370829": "济宁市嘉祥县",
    "370830": "济宁市汶上县",
    "370831": "济宁市泗水县",
    "370832": "济宁市梁山县",
    "370881": "济宁市曲阜市",
    "370883": "济宁市邹城市",
    "370102": "济南市历下区",
    "370202": "青岛市市南区",
    "370902": "泰安市泰山区",
    "371302": "临沂市兰山区",
    "410102": "郑州市中原区",
    "110101": "北京市东城区",
    "310101": "上海市黄浦区",
    "320102": "南京市玄武区",
    "340102": "合肥市瑶海区",
}

WENSHANG = "370830"


def is_valid_province(code: str) -> bool:
    return code[:2] in PROVINCES
