"""WeCom (企业微信): the group robots' webhook sender, broadcasts, and the smart robot's
encrypted callback (WXBizMsgCrypt)."""
