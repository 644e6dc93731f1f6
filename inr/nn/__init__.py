"""The components of a representation: encoders, networks, the zoo, members. Imports only core.

Encoders (and the hash grid), the network skeleton with every activation layer, multiplicative filter networks,
the network zoo, and members: K networks in one batched module.
"""
