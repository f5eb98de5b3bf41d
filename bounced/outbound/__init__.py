"""Outbound mail: the delivery queue (first deliveries and resends), its retry rules, the
scheduler that wakes it and the sender that talks to the next hop."""
