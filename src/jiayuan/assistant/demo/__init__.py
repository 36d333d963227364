"""The assistant of the demo county (stage 数字助理): the group robots and broadcasts
(:mod:`.wecom`) and a week of questions with their hand-offs (:mod:`.asks`)."""
