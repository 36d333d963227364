"""The one screen (一屏管理): a full-screen dashboard per scope (county, street,
community). ``panels`` gathers the numbers of its charts, ``layers`` the GeoJSON of its
map, ``feed`` the live change feed its page follows by server-sent events."""
