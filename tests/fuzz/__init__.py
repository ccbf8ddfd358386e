"""The OCPP fuzz suite (issue 13): generated frames of every hostile class against the
real server over real sockets, with global invariants checked afterwards."""
