DROP TABLE leases
