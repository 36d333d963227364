"""The words of the community demo: what teams are called, what activities, markets,
wishes and topics are about, what a position holds."""

from __future__ import annotations

from jiayuan.community.choices import ActivityKind, TeamColour, UnitKind, WishCategory

# --- volunteer teams (五色一彩): a name per colour, and the ages that fit it --------------
TEAM_NAMES: dict[str, tuple[str, ...]] = {
    TeamColour.RED: ("党员先锋志愿服务队", "红心向党志愿服务队", "党旗红先锋队"),
    TeamColour.GOLD: ("银发余晖志愿服务队", "老党员宣讲团", "夕阳红互助队"),
    TeamColour.BLUE: ("青春活力志愿服务队", "青年突击队", "活力蓝志愿服务队"),
    TeamColour.GREEN: ("红领巾小小志愿者", "希望绿少儿志愿服务队", "小手拉大手志愿队"),
    TeamColour.ORANGE: ("专业橙义诊服务队", "法律服务志愿队", "家电维修志愿队"),
    TeamColour.RAINBOW: ("绚丽彩文艺志愿队", "邻里守望志愿队", "爱心妈妈志愿队"),
}
#: (youngest, oldest) volunteer of a team of each colour (the programme: aged 4–75).
TEAM_AGES: dict[str, tuple[int, int]] = {
    TeamColour.RED: (18, 70),
    TeamColour.GOLD: (55, 75),
    TeamColour.BLUE: (18, 40),
    TeamColour.GREEN: (4, 17),
    TeamColour.ORANGE: (22, 65),
    TeamColour.RAINBOW: (10, 75),
}
SKILLS: dict[str, tuple[str, ...]] = {
    TeamColour.RED: ("政策宣讲", "入户走访", "红色代办"),
    TeamColour.GOLD: ("邻里调解", "书法", "戏曲", "陪伴聊天"),
    TeamColour.BLUE: ("电脑维修", "摄影", "活动组织", "体育"),
    TeamColour.GREEN: ("垃圾分类宣传", "手工", "朗诵"),
    TeamColour.ORANGE: ("医疗护理", "法律咨询", "心理疏导", "家电维修", "理发"),
    TeamColour.RAINBOW: ("舞蹈", "合唱", "烹饪", "育儿"),
}
AVAILABILITY = ("工作日白天", "工作日晚上", "周末", "节假日")

# --- activities ----------------------------------------------------------------------------
ACTIVITY_TITLES: dict[str, tuple[str, ...]] = {
    ActivityKind.CLASS: ("暑期公益课堂", "老年人智能手机课堂", "书法公益课", "儿童绘本阅读",
                         "反诈知识讲座", "家庭教育讲座"),
    ActivityKind.MEDIATION: ("邻里纠纷调解会", "物业矛盾协调会", "小事书记接待日"),
    ActivityKind.CARE: ("独居老人探访", "高龄老人生日会", "留守儿童陪伴", "爱心助餐",
                        "困难家庭慰问"),
    ActivityKind.CLINIC: ("健康义诊", "免费测血压血糖", "中医理疗进社区", "眼科义诊"),
    ActivityKind.CLEANUP: ("楼道清理", "小区环境整治", "垃圾分类宣传", "绿化认养"),
    ActivityKind.CULTURE: ("邻里节文艺汇演", "广场舞展演", "亲子运动会", "读书分享会"),
    ActivityKind.SAFETY: ("消防安全演练", "燃气安全宣传", "防溺水宣传", "电动车安全讲座"),
}  # fmt: skip
ACTIVITY_TARGETS: dict[str, tuple[str, ...]] = {
    ActivityKind.CLASS: ("青少年", "老年人"),
    ActivityKind.MEDIATION: ("居民",),
    ActivityKind.CARE: ("高龄老人", "独居老人", "留守儿童"),
    ActivityKind.CLINIC: ("老年人", "残疾人"),
    ActivityKind.CLEANUP: ("居民",),
    ActivityKind.CULTURE: ("居民", "青少年"),
    ActivityKind.SAFETY: ("居民", "老年人"),
}
#: The colour whose team usually runs an activity of each kind.
KIND_COLOURS: dict[str, tuple[str, ...]] = {
    ActivityKind.CLASS: (TeamColour.BLUE, TeamColour.GOLD, TeamColour.RED),
    ActivityKind.MEDIATION: (TeamColour.GOLD, TeamColour.RED),
    ActivityKind.CARE: (TeamColour.RED, TeamColour.RAINBOW, TeamColour.GREEN),
    ActivityKind.CLINIC: (TeamColour.ORANGE,),
    ActivityKind.CLEANUP: (TeamColour.GREEN, TeamColour.BLUE, TeamColour.RED),
    ActivityKind.CULTURE: (TeamColour.RAINBOW, TeamColour.GOLD),
    ActivityKind.SAFETY: (TeamColour.RED, TeamColour.ORANGE, TeamColour.BLUE),
}

# --- positions ------------------------------------------------------------------------------
CENTRE_ROOMS = (
    ("多功能活动室", 60, ["会议", "培训", "文艺排练"]),
    ("党员活动室", 30, ["党员学习", "议事协商"]),
    ("老年活动室", 40, ["棋牌", "书画", "健身"]),
    ("儿童之家", 25, ["课后托管", "绘本阅读"]),
    ("健康小屋", 12, ["义诊", "健康咨询"]),
)
STATION_ROOMS = (
    ("驿站议事室", 16, ["议事协商", "邻里调解"]),
    ("共享书屋", 20, ["阅读", "公益课堂"]),
)
FACILITIES = (
    ("空调", "基础设施", 2), ("饮水机", "基础设施", 1), ("座椅", "基础设施", 20),
    ("便民服务箱", "便民服务", 1), ("急救箱", "便民服务", 1), ("雨伞架", "便民服务", 1),
    ("手机充电站", "便民服务", 1), ("老花镜", "便民服务", 6), ("微波炉", "便民服务", 1),
    ("图书角", "文化", 1), ("投影仪", "文化", 1), ("音响", "文化", 1), ("健身器材", "健身", 4),
    ("血压计", "健康", 1), ("轮椅", "助老", 2), ("打气筒", "便民服务", 1),
)  # fmt: skip
CONDITIONS = ("完好", "完好", "完好", "完好", "待维修")
SPOT_KINDS = ("聚邻廊", "议事亭")

# --- co-building units and markets ---------------------------------------------------------
UNIT_NAMES: dict[str, tuple[str, ...]] = {
    UnitKind.AGENCY: ("县税务局", "县市场监管局", "县人社局", "县司法局", "县住建局", "县供电公司",
                      "县自然资源局", "县医保局", "县民政局", "县消防救援大队"),
    UnitKind.ENTERPRISE: ("汶上农商银行", "中国移动汶上分公司", "汶上自来水公司", "鲁西物流",
                          "汶上燃气公司", "佛都超市", "中都建设集团"),
    UnitKind.SCHOOL: ("汶上一中", "实验小学", "中都小学", "圣泽中学", "县职业中专"),
    UnitKind.HOSPITAL: ("县人民医院", "县中医院", "中都街道卫生院", "县妇幼保健院"),
    UnitKind.SOCIAL_ORG: ("县义工联合会", "县红十字会", "阳光社工服务中心", "县老年大学"),
}  # fmt: skip
CONTACT_SURNAMES = "王李张刘陈杨赵黄周吴孙马朱胡郭何高林罗郑"
CONTACT_TITLES = ("主任", "科长", "经理", "书记", "老师")
MARKET_TITLES = ("邻里节公益集市", "共享会便民集市", "跳蚤市场", "“汶”暖万家公益集市",
                 "便民服务大集", "健康生活集市")  # fmt: skip
MERCHANTS = ("张记理发", "老刘修鞋", "便民开锁", "家电维修铺", "眼镜店", "裁缝铺", "磨刀铺")

# --- wishes ----------------------------------------------------------------------------------
WISH_TITLES: dict[str, tuple[str, ...]] = {
    WishCategory.DAILY: ("想要一台电风扇", "冬天需要一床厚棉被", "想换一个电饭煲",
                         "需要一辆助行车"),
    WishCategory.CARE: ("希望有人陪老人聊聊天", "想给孩子过个生日", "希望定期上门探望"),
    WishCategory.STUDY: ("孩子想要一套课外书", "需要一个新书包", "想要一盏护眼台灯"),
    WishCategory.REPAIR: ("家里水龙头漏水", "想修一修老旧电线", "楼道灯需要更换"),
    WishCategory.HEALTH: ("想要一台血压计", "希望有人陪同去医院复查", "需要一副老花镜"),
    WishCategory.SKILL: ("想学用智能手机", "想学做面点", "想学电脑打字"),
    WishCategory.OTHER: ("想拍一张全家福", "想要一盆绿植", "想要一套象棋"),
}  # fmt: skip
THANKS = ("谢谢党员同志，太贴心了！", "感谢社区的关心", "非常感谢，心愿实现了", "谢谢你们，辛苦了")

# --- topics (小区事大家议) -------------------------------------------------------------------
#: (title, words of the matter type's name or None for a residents' matter, description)
TOPICS = (
    ("电动车集中充电桩选址", None, "楼道充电隐患大，拟在小区东侧建集中充电棚。"),
    ("小区停车位划线与管理", None, "车位紧张，拟重新划线并实行错时停车。"),
    ("楼道杂物集中清理", None, "组织一次楼道杂物清理，约定长期保持。"),
    ("健身器材更新", None, "小区健身器材老化，拟申请更新。"),
    ("垃圾分类投放点调整", None, "投放点离住户太近，拟调整到北门内侧。"),
    ("加装电梯意见征集", "改建", "多层住宅加装电梯，按改建建筑物表决。"),
    (
        "使用维修资金维修屋面防水",
        "使用建筑物及其附属设施的维修资金",
        "顶层渗漏，拟动用维修资金维修屋面。",
    ),
    ("续聘物业服务企业", "物业服务企业", "物业合同到期，拟续聘现物业服务企业。"),
    ("修改管理规约（宠物管理）", "管理规约", "增加文明养犬条款。"),
    ("共有部分设置快递柜", "改变共有部分", "利用共有部分设置快递柜，收益归全体业主。"),
)
PROPOSALS = ("方案一", "方案二")
TASKS = ("制定实施方案", "公示结果", "组织施工", "验收并公开账目")
