"""The WFM side (a Webex WFO-style WFM): its HTTP client and the WFM file
(``client``, ``config``), state forwarding (``forwarder``, ``forward_buffer``,
``run``: `rta forward`) and schedule sync (``schedules``, ``schedule_sync``)."""
