"""The words of the partners demo: what partners are called and do, what projects
offer, what an inspection finds and what residents say."""

from __future__ import annotations

from jiayuan.partners.choices import PartnerKind

#: Name stems per kind; the community's short name (社区 dropped) goes in front.
PARTNER_NAMES: dict[str, tuple[str, ...]] = {
    PartnerKind.SOCIAL_ORG: (
        "为老服务中心", "社会工作服务中心", "邻里互助协会", "青少年成长服务中心", "公益发展中心",
        "康养服务中心", "家庭教育服务中心", "文化艺术促进会", "助残服务中心", "心理健康服务中心",
    ),
    PartnerKind.MERCHANT: (
        "便民超市", "家政服务部", "理发店", "早餐店", "药房", "洗衣店", "家电维修部", "书店",
        "托管中心", "餐饮店", "裁缝铺", "水果店",
    ),
    PartnerKind.VOLUNTEER_TEAM: (
        "巾帼志愿服务队", "银龄互助队", "青年志愿服务队", "红色代办队", "邻里守望队",
        "文艺志愿队", "护河志愿队",
    ),
}  # fmt: skip
TALENT_SKILLS: tuple[str, ...] = (
    "书法教学", "理发义剪", "家电维修", "太极拳教学", "剪纸非遗", "中医推拿", "法律咨询",
    "烹饪教学", "摄影培训", "编织手工",
)  # fmt: skip
SERVICES: dict[str, tuple[str, ...]] = {
    PartnerKind.SOCIAL_ORG: ("助餐助浴、健康管理", "四点半课堂、假期托管", "邻里调解、心理疏导",
                             "文体活动组织", "残疾人康复陪护"),
    PartnerKind.MERCHANT: ("平价商品、送货上门", "低偿家政、保洁", "老人理发优惠", "爱心早餐",
                           "便民维修"),
    PartnerKind.VOLUNTEER_TEAM: ("入户探访、代买代办", "环境整治", "文艺演出", "政策宣讲"),
    PartnerKind.TALENT: ("公益课堂", "技能培训", "义诊义剪"),
}  # fmt: skip
QUALIFICATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    PartnerKind.SOCIAL_ORG: (("民办非企业单位登记证书", "汶上县民政局"),
                             ("养老服务机构备案回执", "汶上县民政局"),
                             ("食品经营许可证", "汶上县市场监督管理局")),
    PartnerKind.MERCHANT: (("食品经营许可证", "汶上县市场监督管理局"),
                           ("从业人员健康证", "汶上县疾病预防控制中心"),
                           ("营业执照", "汶上县市场监督管理局")),
    PartnerKind.VOLUNTEER_TEAM: (("志愿服务组织备案证明", "汶上县志愿服务联合会"),),
    PartnerKind.TALENT: (("职业技能等级证书", "济宁市人力资源和社会保障局"),
                         ("健康证", "汶上县疾病预防控制中心")),
}  # fmt: skip
CONTACT_ROLES = ("负责人", "项目主管", "联络员", "队长")

#: Projects: (name stem, content, price class, target groups, preferred partner kind).
PROJECTS: tuple[tuple[str, str, str, list[str], str], ...] = (
    ("四点半课堂", "放学后作业辅导、阅读和手工课，家长下班前看护。", "low_cost", ["留守儿童"],
     PartnerKind.SOCIAL_ORG),
    ("银龄健康小屋", "每周血压血糖测量、健康讲座和慢病随访。", "free", ["高龄", "独居", "空巢"],
     PartnerKind.SOCIAL_ORG),
    ("邻里便民维修站", "小家电、自行车、水电维修，材料按成本价收取。", "low_cost", ["独居", "残疾"],
     PartnerKind.MERCHANT),
    ("爱心理发角", "每月两次为老人理发，行动不便的上门服务。", "low_cost", ["高龄", "残疾"],
     PartnerKind.MERCHANT),
    ("书香儿童之家", "绘本阅读、周末亲子活动和假期托管。", "free", ["留守儿童", "困境儿童"],
     PartnerKind.SOCIAL_ORG),
    ("乐龄学堂", "书法、戏曲、智能手机课程，每周五个半天。", "free", ["空巢", "独居"],
     PartnerKind.VOLUNTEER_TEAM),
    ("社区家政服务站", "低偿保洁、陪护和代买代办。", "small_profit", ["高龄", "失能"],
     PartnerKind.MERCHANT),
    ("心理驿站", "邻里调解、心理疏导和家庭关系辅导。", "free", [], PartnerKind.SOCIAL_ORG),
    ("助残康复站", "康复训练、辅具租借和上门陪护。", "low_cost", ["残疾", "失能"],
     PartnerKind.SOCIAL_ORG),
    ("红色代办服务点", "代缴费、代取药、代办证照。", "free", ["高龄", "独居"],
     PartnerKind.VOLUNTEER_TEAM),
    ("非遗手工坊", "剪纸、编织课程和作品义卖。", "free", [], PartnerKind.TALENT),
    ("太极健身点", "晨练教学和健身队组织。", "free", ["空巢"], PartnerKind.TALENT),
)  # fmt: skip
CANTEEN = (
    "长者食堂",
    "为老年人提供午餐、晚餐堂食和送餐上门，80 岁以上老人和低保老人享受优惠；食品安全接受"
    "食堂监督团监督，每月公示菜单和价格。",
    "low_cost", ["高龄", "独居", "空巢", "失能"], PartnerKind.SOCIAL_ORG,
)  # fmt: skip

CRITERIA = [
    {"key": "plan", "label": "服务方案", "weight": 40},
    {"key": "price", "label": "价格与可持续", "weight": 25},
    {"key": "experience", "label": "资质与经验", "weight": 20},
    {"key": "credit", "label": "信用与口碑", "weight": 15},
]
PLANS = (
    "配备专职人员 {n} 名，每周服务 {d} 天，建立服务台账，每月向社区报告。",
    "由负责人牵头，组织志愿者 {n} 人轮值，每周开放 {d} 天，价格公示。",
    "依托现有团队 {n} 人，按社区需求排班，每周服务 {d} 天，接受居民监督。",
)
OBLIGATIONS = (
    "乙方按服务方案提供服务，价格不超过限价并公示；甲方无偿提供场地并负责水电。"
    "乙方接受社区党委、监督团和居民监督，每季度接受评估。"
)
EXIT_CONDITIONS = (
    "信用分降至清退线、发生重大安全事故或擅自改变场地用途的，经社区党委决定清退并终止协议。"
)
INSPECTIONS = (
    "检查服务台账、价格公示和场地卫生，整体运行正常。",
    "抽查服务记录并走访服务对象，服务按计划开展。",
    "检查消防通道、用电安全和卫生状况。",
    "核对收费与公示价格，查看居民意见簿。",
)
CANTEEN_INSPECTIONS = (
    "食堂监督团检查后厨卫生、食材台账和留样记录，菜品按公示价格供应。",
    "检查食材进货票据、冷藏温度和餐具消毒，抽查助餐优惠落实情况。",
    "监督团成员陪餐，查看菜单公示和送餐登记。",
)
FINDINGS = (
    ("价格公示牌未及时更新", "minor"),
    ("服务台账记录不完整", "minor"),
    ("灭火器过期未更换", "major"),
    ("场地卫生不达标", "minor"),
    ("服务时间与协议约定不符", "major"),
    ("私拉电线存在安全隐患", "severe"),
)
CANTEEN_FINDINGS = (
    ("食品留样记录缺少两餐", "major"),
    ("后厨地面积水", "minor"),
    ("冷藏柜温度记录不全", "minor"),
)
RECTIFICATIONS = (
    "已整改到位，监督团复查通过。",
    "已按要求补齐并拍照上传。",
    "已更换并建立检查台账。",
)
PRAISE = ("服务很好，工作人员热情。", "价格实惠，离家近。", "孩子很喜欢，作业有人辅导。",
          "饭菜可口，老人吃得放心。", "环境干净整洁。", "")  # fmt: skip
NEUTRAL = ("还行，希望开放时间再长一点。", "排队时间有点长。", "")
COMPLAINTS = ("价格比公示的高。", "工作人员态度不好。", "约好的时间没来。", "饭菜偏咸，分量少。")
EVIDENCE = {
    "operations": "服务台账与开放记录",
    "finance": "收支明细与价格公示",
    "social": "服务人次与居民回访",
    "quality": "监督检查与满意度评价",
}
#: What the partner a project is meant for is called (its name stem, or a talent's skill)
#: and what it offers, by the project's name stem.
FIT: dict[str, tuple[str, str]] = {
    "长者食堂": ("长者助餐服务中心", "老年助餐、送餐上门、营养配餐"),
    "四点半课堂": ("青少年成长服务中心", "四点半课堂、假期托管"),
    "银龄健康小屋": ("康养服务中心", "健康监测、慢病随访、健康讲座"),
    "邻里便民维修站": ("家电维修部", "家电、水电和自行车维修"),
    "爱心理发角": ("理发店", "老人理发优惠、上门理发"),
    "书香儿童之家": ("家庭教育服务中心", "绘本阅读、亲子活动"),
    "乐龄学堂": ("银龄互助队", "老年课堂、智能手机教学"),
    "社区家政服务站": ("家政服务部", "低偿保洁、陪护、代买代办"),
    "心理驿站": ("心理健康服务中心", "心理疏导、邻里调解"),
    "助残康复站": ("助残服务中心", "康复训练、辅具租借"),
    "红色代办服务点": ("红色代办队", "代缴费、代取药、代办证照"),
    "非遗手工坊": ("剪纸非遗", "剪纸、编织教学"),
    "太极健身点": ("太极拳教学", "晨练教学、健身队组织"),
}
