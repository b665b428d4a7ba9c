"""Device protocols: one module per protocol, pure decoders and encoders.

A decoder turns what a device sent (bytes, a query string, a JSON body) into `Fix` and
`DeviceEvent` records, or refuses it with a reason. Modules here import only the domain
and the standard library: sockets, HTTP servers and authentication live in the gateways.
"""
