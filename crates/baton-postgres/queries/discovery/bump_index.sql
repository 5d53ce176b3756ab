-- Moves the service's modify index on by one (to 1 for a new service) and answers with it.
INSERT INTO service_indexes (namespace, service, modify_index) VALUES ($1, $2, 1)
ON CONFLICT (namespace, service) DO UPDATE SET modify_index = service_indexes.modify_index + 1
RETURNING modify_index
