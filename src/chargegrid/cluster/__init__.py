"""Cluster mode: several ``chargegrid serve`` nodes on one PostgreSQL and one NATS.

Only ``chargegrid serve --nats-url`` (or ``CHARGEGRID_NATS_URL``) imports this package;
a single node never loads nats. What lives here (docs/cluster.md):

- ``nats_link``  the node's NATS connection (reconnecting), JetStream, KV buckets, and
                 its identity (node id, API and OCPP addresses); everything else builds
                 on a :class:`~chargegrid.cluster.nats_link.NatsLink`
- ``nodes``      node presence: a heartbeat per node in a KV bucket with a TTL
- ``events``     the bus bridge: every node's events reach every node's subscribers
- ``locations``  which node holds each charger's socket, with its connection epoch
- ``routing``    commands to a charger held by another node (NATS request/reply)
- ``leases``, ``site_owner*``  site ownership (one control loop per site)
"""
