"""OCPP 2.0.1 TransactionEvent throughput beside 1.6 MeterValues, against the ``ocpp``
package's own 2.0.1 server (built on ``bench.ocpp``)."""
