"""The demo district's vocabulary: places, names, laws, reasons and results (data only).

Everything here is constant; ``gateway.demo.generate`` draws from it with its own
``random.Random``. Chinese text is data (what agencies actually publish), not names.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "ANOMALY_REASONS",
    "BRAND_SYLLABLES",
    "CAPITAL",
    "DECISION_PREFIX",
    "DISTRICTS",
    "DISTRICT_WEIGHTS",
    "ENTITY_CODE_CLASS",
    "ENTITY_TYPES",
    "ENTITY_WEIGHTS",
    "FAILED_RESULTS",
    "FOOD_INDUSTRIES",
    "GIVEN",
    "ID_AREAS",
    "INDUSTRY_NAMES",
    "INDUSTRY_WEIGHTS",
    "PASSED_RESULTS",
    "PENALTY_TYPES",
    "POLLUTING_INDUSTRIES",
    "SERIOUS_REASONS",
    "SHOP_CAPITAL",
    "SHOP_INDUSTRIES",
    "STATUSES",
    "STATUS_WEIGHTS",
    "SURNAMES",
    "VIOLATIONS",
    "DistrictDef",
    "Listing",
    "Result",
    "Violation",
    "business_scope",
    "enterprise_name",
    "inspection_chances",
    "licence_chances",
    "licence_for",
    "obligation",
    "penalty_amount",
    "penalty_risk",
]


@dataclass(frozen=True, slots=True)
class DistrictDef:
    """A Beijing district: division code, name, abbreviation used in document numbers."""

    code: str
    name: str
    abbr: str
    streets: tuple[str, ...]


def _district(line: str) -> DistrictDef:
    code, name, abbr, *streets = line.split()
    return DistrictDef(code, name, abbr, tuple(streets))


DISTRICTS = tuple(_district(line) for line in (
    "110101 东城区 东 东直门内大街 王府井大街 东四北大街 朝阳门北大街 建国门内大街",
    "110102 西城区 西 西直门南小街 阜成门内大街 月坛北街 德胜门外大街 广安门内大街 西单北大街",
    "110105 朝阳区 朝 建国路 朝阳北路 望京街 东三环中路 酒仙桥路",
    "110106 丰台区 丰 丰台北路 南三环西路 马家堡东路 丰管路",
    "110107 石景山区 石 石景山路 鲁谷路 古城大街",
    "110108 海淀区 海 中关村大街 学院路 北四环西路 知春路 苏州街",
    "110109 门头沟区 门 新桥大街 滨河路",
    "110111 房山区 房 拱辰大街 长虹西路",
    "110112 通州区 通 新华大街 通胡大街 运河西大街",
    "110113 顺义区 顺 府前街 双河大街",
    "110114 昌平区 昌 府学路 回龙观西大街",
    "110115 大兴区 兴 兴华大街 黄村西大街",
    "110116 怀柔区 怀 青春路 府前街",
    "110117 平谷区 平 府前街 新平北路",
    "110118 密云区 密 鼓楼大街 新中街",
    "110119 延庆区 延 妫水北街 东外大街",
))
DISTRICT_WEIGHTS = (10, 30, 15, 8, 4, 15, 1, 2, 4, 2, 3, 3, 1, 1, 1, 1)

# Birthplace division codes for resident ID numbers (GB 11643).
ID_AREAS = (
    "110101", "110102", "110105", "110108", "120101", "130102", "130203", "140105", "210102",
    "220102", "230102", "320102", "320506", "340102", "350102", "360102", "370102", "370202",
    "410105", "420102", "430102", "440106", "500103", "510104", "610113",
)
SURNAMES = tuple(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
    "程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建国"
    "志文斌宇浩凯鑫晨欣怡婷雪琳博然子轩梓涵思雨佳俊嘉天海峰春林云飞波"
)
BRAND_SYLLABLES = tuple(
    "华信恒通达鑫盛宏远泰和嘉瑞祥丰隆兴利安康永金元德正中天海博创新晟"
    "润源鼎合汇凯宸景益辰星明阳光诚荣昌旺福裕懋卓越汉唐京燕翔腾茂顺美佳"
)

ENTITY_TYPES = ("有限责任公司", "股份有限公司", "个人独资企业", "合伙企业", "个体工商户",
                "农民专业合作社")
ENTITY_WEIGHTS = (70, 5, 5, 3, 16, 1)
# Second character of the credit code (GB 32100-2015): 1 企业, 2 个体工商户, 3 农民专业合作社.
ENTITY_CODE_CLASS = MappingProxyType({t: {"个体工商户": "2", "农民专业合作社": "3"}.get(t, "1")
                                      for t in ENTITY_TYPES})
_NAME_SUFFIX = MappingProxyType({
    "有限责任公司": "有限公司", "股份有限公司": "股份有限公司", "个人独资企业": "中心",
    "合伙企业": "合伙企业（有限合伙）", "农民专业合作社": "专业合作社",
})

# GB/T 4754-style industries with the words that appear in company names, and weights.
_INDUSTRIES = (
    ("批发和零售业", "商贸 贸易 商业 百货", 22),
    ("软件和信息技术服务业", "科技 信息技术 网络科技 软件 数据科技", 14),
    ("餐饮业", "餐饮管理 餐饮 美食 饮食文化", 12),
    ("居民服务业", "家政服务 洗衣服务 美容美发 搬家服务", 8),
    ("建筑业", "建筑工程 建设工程 装饰工程 市政工程", 8),
    ("制造业", "机械 电子设备 精密制造 五金制品", 8),
    ("房地产业", "房地产开发 置业 物业管理 不动产", 6),
    ("道路运输业", "物流 运输 货运 客运", 6),
    ("住宿业", "酒店管理 宾馆 酒店 公寓管理", 4),
    ("食品制造业", "食品 食品科技 烘焙食品 乳业", 4),
    ("化学原料和化学制品制造业", "化工 化学 新材料 涂料", 3),
    ("医药制造业", "医药 生物医药 制药 药业", 2),
    ("农业", "蔬菜种植 果品 养殖 农产品", 0),  # only for 农民专业合作社
)
INDUSTRY_NAMES = tuple(name for name, _, weight in _INDUSTRIES if weight)
INDUSTRY_WEIGHTS = tuple(weight for _, _, weight in _INDUSTRIES if weight)
_INDUSTRY_WORDS = MappingProxyType({name: tuple(words.split()) for name, words, _ in _INDUSTRIES})
_SHOP_WORDS = MappingProxyType({
    "餐饮业": ("餐馆", "小吃店", "面馆"), "批发和零售业": ("便利店", "商店", "超市", "食杂店"),
    "居民服务业": ("理发店", "洗衣店", "家政服务部"), "住宿业": ("旅馆", "招待所"),
})
SHOP_INDUSTRIES = tuple(_SHOP_WORDS)
FOOD_INDUSTRIES = frozenset({"餐饮业", "食品制造业", "住宿业", "批发和零售业"})
POLLUTING_INDUSTRIES = frozenset({"制造业", "化学原料和化学制品制造业", "医药制造业", "食品制造业",
                                  "建筑业", "道路运输业"})

STATUSES = ("ACTIVE", "REVOKED", "CANCELLED", "MOVED_OUT")
STATUS_WEIGHTS = (88, 5, 5, 2)
CAPITAL = ("3", "5", "10", "30", "50", "100", "100", "200", "300", "500", "500", "1000", "2000",
           "5000", "10000", "12.5")
SHOP_CAPITAL = ("1", "2", "3", "5", "10")


# Business scopes (经营范围) per industry, as the registry writes them; some need a licence
# of policies/licensing.yaml (先照后证), some none. Chosen by the credit code, not drawn
# from the generator's random stream, so every other value of the demo stays the same.
_SCOPES = MappingProxyType({
    "批发和零售业": ("销售日用品、文具用品、服装鞋帽", "销售食品；销售日用品、化妆品",
                  "预包装食品销售；日用百货销售"),
    "软件和信息技术服务业": ("技术开发、技术咨询、技术服务；软件开发", "数据处理；计算机系统服务"),
    "餐饮业": ("餐饮服务；热食类食品制售", "餐饮服务；冷食类食品制售；酒类销售"),
    "居民服务业": ("家政服务；洗染服务", "美容美发服务；洗浴服务"),
    "建筑业": ("施工总承包；专业承包；建筑装饰工程设计", "市政工程施工；园林绿化工程"),
    "制造业": ("生产电线电缆；销售五金交电", "机械设备制造；电子产品销售"),
    "房地产业": ("房地产开发经营；物业管理", "房地产经纪；不动产租赁"),
    "道路运输业": ("普通货运；货物专用运输（集装箱）", "道路旅客运输；汽车租赁"),
    "住宿业": ("住宿服务；餐饮服务；热食类食品制售", "住宿服务；会议服务"),
    "食品制造业": ("食品生产；食品销售", "食品生产（糕点、饼干）；食品加工技术开发"),
    "化学原料和化学制品制造业": ("化学原料生产（不含危险化学品）；涂料制造",
                      "生产危险化学品；化工产品销售"),
    "医药制造业": ("药品生产；原料药生产", "医药技术开发；医疗器械销售"),
    "农业": ("蔬菜种植；水果种植；农产品销售", "家禽饲养；农业技术推广"),
})


def business_scope(industry: str, credit_code: str) -> str:
    """The registered business scope (经营范围) of an enterprise of this industry."""
    choices = _SCOPES.get(industry, ("技术服务；企业管理咨询",))
    return choices[sum(map(ord, credit_code)) % len(choices)]


def enterprise_name(entity: str, district: DistrictDef, brand: str, industry: str,
                    rng: random.Random) -> str:
    """A registered name such as 北京华信科技有限公司 or 北京市西城区鑫盛便利店."""
    if entity == "个体工商户":
        return f"北京市{district.name}{brand}{rng.choice(_SHOP_WORDS[industry])}"
    return f"北京{brand}{rng.choice(_INDUSTRY_WORDS[industry])}{_NAME_SUFFIX[entity]}"


# -- penalties ---------------------------------------------------------------------------

_PUNISHMENT = MappingProxyType({
    "WARNING": "给予警告", "CRITICISM": "给予通报批评", "FINE": "处罚款{amount}元",
    "CONFISCATION": "没收违法所得{amount}元", "LICENCE_SUSPENSION": "暂扣许可证件六个月",
    "LICENCE_REVOCATION": "吊销许可证件", "PRODUCTION_SUSPENSION": "责令停产停业整顿",
    "CLOSURE": "责令关闭", "DETENTION": "行政拘留十日",
})


@dataclass(frozen=True, slots=True)
class Violation:
    """A violation type with the article it breaks and the article that punishes it."""

    name: str
    law: str
    article: str
    basis: str

    def content(self, kind: str, amount: str, person: str | None) -> str:
        """The decision's text, on the enterprise or on its responsible person."""
        punish = _PUNISHMENT[kind].format(amount=amount)
        breach = f"违反了《{self.law}》第{self.article}条的规定"
        basis = f"依据《{self.law}》第{self.basis}条的规定"
        facts = f"当事人存在{self.name}的行为，{breach}。"
        if person:
            return f"{facts}{person}作为直接负责的主管人员，{basis}，对其{punish}。"
        return f"{facts}{basis}，决定对当事人{punish}。"


def _violations(*lines: str) -> tuple[Violation, ...]:
    return tuple(Violation(*line.split("|")) for line in lines)


VIOLATIONS: Mapping[str, tuple[Violation, ...]] = MappingProxyType({
    "SAMR": _violations(
        "虚假宣传|中华人民共和国反不正当竞争法|八|二十",
        "销售不合格产品|中华人民共和国产品质量法|三十九|五十",
        "未明码标价|中华人民共和国价格法|十三|四十二",
        "无照经营|无证无照经营查处办法|六|十三",
        "侵犯注册商标专用权|中华人民共和国商标法|五十七|六十",
        "特种设备未经定期检验继续使用|中华人民共和国特种设备安全法|四十|八十四",
    ),
    "TAX": _violations(
        "未按期进行纳税申报|中华人民共和国税收征收管理法|二十五|六十二",
        "偷税|中华人民共和国税收征收管理法|六十三|六十三",
        "虚开发票|中华人民共和国发票管理办法|二十一|三十七",
        "未按规定设置、保管账簿|中华人民共和国税收征收管理法|十九|六十",
    ),
    "EPB": _violations(
        "超标排放大气污染物|中华人民共和国大气污染防治法|十八|九十九",
        "未按照排污许可证规定排放污染物|排污许可管理条例|十七|三十四",
        "危险废物贮存不规范|中华人民共和国固体废物污染环境防治法|八十一|一百一十二",
        "建设项目未批先建|中华人民共和国环境影响评价法|二十五|三十一",
        "未按规定安装污染物排放自动监测设备|中华人民共和国水污染防治法|二十三|八十二",
    ),
    "FDA": _violations(
        "经营超过保质期的食品|中华人民共和国食品安全法|三十四|一百二十四",
        "未取得食品经营许可从事食品经营活动|中华人民共和国食品安全法|三十五|一百二十二",
        "从业人员未取得健康证明|中华人民共和国食品安全法|四十五|一百二十六",
        "未按规定查验供货者许可证和食品合格证明|中华人民共和国食品安全法|五十三|一百二十六",
        "餐具饮具未按规定清洗消毒|中华人民共和国食品安全法|五十六|一百二十六",
    ),
    "FIRE": _violations(
        "消防设施、器材未保持完好有效|中华人民共和国消防法|十六|六十",
        "占用、堵塞、封闭疏散通道、安全出口|中华人民共和国消防法|二十八|六十",
        "埋压、圈占、遮挡消火栓|中华人民共和国消防法|二十八|六十",
        "未经消防验收擅自投入使用|中华人民共和国消防法|十三|五十八",
    ),
})
PENALTY_TYPES: Mapping[str, tuple[tuple[str, ...], tuple[int, ...]]] = MappingProxyType({
    "SAMR": (("WARNING", "CRITICISM", "FINE", "CONFISCATION", "LICENCE_SUSPENSION",
              "LICENCE_REVOCATION", "PRODUCTION_SUSPENSION"), (20, 4, 55, 12, 3, 4, 2)),
    "TAX": (("FINE", "CONFISCATION"), (90, 10)),
    "EPB": (("WARNING", "FINE", "CONFISCATION", "PRODUCTION_SUSPENSION", "CLOSURE"),
            (10, 70, 5, 12, 3)),
    "FDA": (("WARNING", "FINE", "CONFISCATION", "LICENCE_SUSPENSION", "LICENCE_REVOCATION"),
            (25, 50, 15, 5, 5)),
    "FIRE": (("WARNING", "FINE", "PRODUCTION_SUSPENSION"), (30, 58, 12)),
})
_FINE_RANGE = MappingProxyType({
    "SAMR": (1_000, 500_000), "TAX": (500, 2_000_000), "EPB": (10_000, 1_000_000),
    "FDA": (2_000, 300_000), "FIRE": (5_000, 50_000),
})
DECISION_PREFIX = MappingProxyType({
    "SAMR": "{abbr}市监罚", "TAX": "京{abbr}税稽罚", "EPB": "{abbr}环罚",
    "FDA": "{abbr}食药监罚", "FIRE": "{abbr}消行罚决字",
})


def penalty_amount(agency: str, kind: str, rng: random.Random) -> str:
    """Yuan, as a plain decimal string; empty for penalties without a sum."""
    if kind not in ("FINE", "CONFISCATION"):
        return ""
    low, high = _FINE_RANGE[agency]
    value = low * (high / low) ** (rng.random() ** 1.6)  # most fines are small
    step = 100 if value < 10_000 else 1_000
    return str(int(value // step * step))


def penalty_risk(kind: str, amount: str, rng: random.Random) -> str:
    """The owner agency's risk level for a penalty of this kind and size."""
    if kind in ("WARNING", "CRITICISM"):
        level = 0
    elif amount:
        level = 0 if int(amount) < 10_000 else 1 if int(amount) < 100_000 else 2
    else:
        level = 1 if kind in ("LICENCE_SUSPENSION", "PRODUCTION_SUSPENSION") else 2
    if rng.random() < 0.15:
        level = min(2, level + 1)
    return ("LOW", "MEDIUM", "HIGH")[level]


# -- listings, court, inspections -------------------------------------------------------

Listing = tuple[str, str, tuple[str, ...]]  # reason, removal reason, possible risk levels
ANOMALY_REASONS: tuple[Listing, ...] = (
    ("未按规定报送年度报告", "补报未报年份的年度报告并公示", ("LOW", "LOW", "MEDIUM")),
    ("未按规定报送年度报告", "补报未报年份的年度报告并公示", ("LOW", "LOW", "MEDIUM")),
    ("通过登记的住所或者经营场所无法联系", "依法办理住所变更登记", ("MEDIUM", "MEDIUM", "HIGH")),
    ("未在责令的期限内公示有关企业信息", "补报应当公示的企业信息", ("LOW", "MEDIUM")),
    ("公示企业信息隐瞒真实情况、弄虚作假", "更正其公示的企业信息", ("MEDIUM", "HIGH")),
)
SERIOUS_REASONS: Mapping[str, tuple[Listing, ...]] = MappingProxyType({
    "SAMR": (
        ("被列入经营异常名录届满三年仍未履行相关义务", "履行相关义务后申请信用修复",
         ("HIGH", "HIGH", "MEDIUM")),
        ("提交虚假材料取得公司登记，被撤销登记", "列入严重违法失信名单届满三年", ("HIGH",)),
        ("因食品安全违法行为受到较重行政处罚", "完成信用修复，提前移出", ("HIGH", "MEDIUM")),
    ),
    "TAX": (
        ("偷税，查补税款一百万元以上且占各税种应纳税总额百分之十以上",
         "缴清税款、滞纳金和罚款，经批准停止公布", ("HIGH",)),
        ("虚开增值税专用发票", "公布期届满", ("HIGH",)),
        ("骗取国家出口退税款", "公布期届满", ("HIGH",)),
        ("欠缴税款一百万元以上且转移财产逃避追缴", "缴清欠缴税款及滞纳金", ("MEDIUM", "HIGH")),
    ),
})
_OBLIGATIONS = ("支付货款{a}元及逾期付款利息", "偿还借款本金{a}元及利息", "支付拖欠的劳动报酬{a}元",
                "支付房屋租金{a}元及违约金", "赔偿经济损失{a}元", "支付工程款{a}元")


def obligation(rng: random.Random) -> tuple[str, int]:
    """A judgment's obligation (生效法律文书确定的义务) and its sum in yuan."""
    amount = int(3_000 * 2_000 ** (rng.random() ** 1.5)) // 100 * 100
    text = rng.choice(_OBLIGATIONS).format(a=amount)
    return f"依生效法律文书，被执行人应{text}，并负担案件受理费", amount


Result = tuple[str, str, tuple[str, ...]]  # code, text, possible risk levels (none: passed)
PASSED_RESULTS: tuple[Result, ...] = (
    ("01", "未发现问题", ()), ("01", "未发现问题", ()),
    ("07", "未发现开展本次抽查涉及的经营活动", ()),
)
FAILED_RESULTS: tuple[Result, ...] = (
    ("02", "未按规定公示应当公示的信息", ("LOW",)),
    ("03", "公示信息隐瞒真实情况、弄虚作假", ("MEDIUM", "HIGH")),
    ("04", "通过登记的住所（经营场所）无法联系", ("MEDIUM",)),
    ("05", "发现问题已责令改正", ("LOW", "LOW", "MEDIUM")),
    ("06", "发现问题待后续处理", ("MEDIUM", "HIGH")),
    ("08", "不配合检查，情节严重", ("HIGH",)),
)


# -- licences -------------------------------------------------------------------------

_FDA_CHANCE = MappingProxyType(
    {"餐饮业": 0.75, "食品制造业": 0.6, "住宿业": 0.5, "批发和零售业": 0.35, "医药制造业": 0.7}
)


def licence_chances(industry: str) -> tuple[tuple[str, float], ...]:
    """(agency, probability) of an enterprise of this industry holding its licence."""
    chances = []
    if industry in ("制造业", "化学原料和化学制品制造业", "食品制造业"):
        chances.append(("SAMR", 0.35))
    if industry in POLLUTING_INDUSTRIES or industry == "餐饮业":
        chances.append(("EPB", 0.1 if industry == "餐饮业" else 0.45))
    if industry in _FDA_CHANCE:
        chances.append(("FDA", _FDA_CHANCE[industry]))
    return tuple(chances)


def inspection_chances(industry: str) -> tuple[tuple[str, float], ...]:
    """(agency, probability) of a passed spot check (双随机抽查) of this industry."""
    chances = [("SAMR", 0.2), ("FIRE", 0.3 if industry in ("住宿业", "餐饮业") else 0.12)]
    if industry in POLLUTING_INDUSTRIES:
        chances.append(("EPB", 0.3))
    if industry in FOOD_INDUSTRIES:
        chances.append(("FDA", 0.3))
    return tuple(chances)


_PRODUCTS = MappingProxyType({
    "制造业": ("电线电缆", "电动自行车", "人民防空工程防护设备"),
    "化学原料和化学制品制造业": ("危险化学品", "化肥", "危险化学品包装物、容器"),
})
_FOOD_SCOPE = MappingProxyType({
    "餐饮业": "热食类食品制售；冷食类食品制售", "住宿业": "热食类食品制售（单位食堂）",
    "批发和零售业": "预包装食品（含冷藏冷冻食品）销售；散装食品（不含熟食）销售",
})


def licence_for(agency: str, industry: str, code: str, rng: random.Random
                ) -> tuple[str, str, str]:
    """(licence name, content, licence number) of an agency's licence for an enterprise."""
    area = code[2:8]
    if agency == "SAMR" and industry == "食品制造业":
        scope = rng.choice(("糕点；饼干", "饮料；罐头", "速冻食品；方便食品", "乳制品"))
        return "食品生产许可证", f"生产{scope}", f"SC1{area}{rng.randrange(10**7):07d}"
    if agency == "SAMR":
        product = rng.choice(_PRODUCTS.get(industry, ("电线电缆",)))
        serial = f"{rng.randint(1, 31):02d}-{rng.randint(1, 999):03d}-{rng.randint(1, 99999):05d}"
        return "工业产品生产许可证", f"生产{product}", f"(京)XK{serial}"
    if agency == "EPB" and industry == "餐饮业":
        return "固定污染源排污登记回执", "餐饮油烟经净化设施处理后排放", f"{code}001W"
    if agency == "EPB":
        content = "主要污染物类别：废气、废水；排放方式：有组织排放；执行北京市地方排放标准"
        return "排污许可证", content, f"{code}001P"
    if industry == "医药制造业":
        number = f"京{rng.randint(2018, 2025)}{rng.randrange(10**4):04d}"
        return "药品生产许可证", "原料药，片剂，硬胶囊剂，颗粒剂", number
    scope = _FOOD_SCOPE.get(industry, "预包装食品（不含冷藏冷冻食品）销售")
    form = "2" if industry in ("餐饮业", "住宿业") else "1"
    return "食品经营许可证", scope, f"JY{form}{area}{rng.randrange(10**7):07d}"
