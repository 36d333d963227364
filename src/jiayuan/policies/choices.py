"""Choices of the policies app (政策找人)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IssuingLevel(models.TextChoices):
    NATIONAL = "national", _("国家")
    PROVINCE = "province", _("省级")
    CITY = "city", _("市级")
    COUNTY = "county", _("县级")


class MatchStatus(models.TextChoices):
    """Where a match stands. The door-to-door task is the match itself:
    待上门 → 已上门 → 已受理 / 已办结 (benefit recorded) / 不符合 / 本人放弃."""

    UPCOMING = "upcoming", _("即将符合")
    PENDING = "pending", _("待上门")
    VISITED = "visited", _("已上门")
    ACCEPTED = "accepted", _("已受理")
    GRANTED = "granted", _("已办结")
    REJECTED = "rejected", _("不符合")
    DECLINED = "declined", _("本人放弃")
    CLOSED = "closed", _("已关闭")


OPEN_STATUSES = (
    MatchStatus.UPCOMING,
    MatchStatus.PENDING,
    MatchStatus.VISITED,
    MatchStatus.ACCEPTED,
)
# Statuses the nightly run may close when the person stops qualifying: once the
# application is accepted, the office decides, not the run.
CLOSABLE_STATUSES = (MatchStatus.UPCOMING, MatchStatus.PENDING, MatchStatus.VISITED)
# Final statuses after which the same person is not matched again for a while.
SETTLED_STATUSES = (MatchStatus.REJECTED, MatchStatus.DECLINED)


class MatchKind(models.TextChoices):
    ELIGIBLE = "eligible", _("符合")
    CANDIDATE = "candidate", _("待核实")


class CloseReason(models.TextChoices):
    DECEASED = "deceased", _("本人已故")
    MOVED = "moved", _("已迁出或不在本地居住")
    RECEIVING = "receiving", _("已享受该待遇")
    NO_LONGER = "no_longer", _("不再符合条件")
    POLICY_ENDED = "policy_ended", _("政策已停止执行")


class BenefitSource(models.TextChoices):
    VISIT = "visit", _("上门办结")
    IMPORT = "import", _("数据导入")
    MANUAL = "manual", _("手工登记")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("运行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
