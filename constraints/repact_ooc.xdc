# Clock of a repact-hw core synthesized out of context (packaged with USED_IN out_of_context:
# in a block design the clock comes from its source and this file is not used).
#
# The generated copy sets repact_aclk_period_ns (from --clock-mhz) on the line before this text.
# Every port is synchronous to aclk; there is no other clock and no asynchronous input (the
# reset aresetn is synchronous), so one create_clock covers the whole core.
create_clock -period $repact_aclk_period_ns -name aclk [get_ports aclk]
