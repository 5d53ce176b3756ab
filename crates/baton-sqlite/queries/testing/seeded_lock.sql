-- Tests only: the seeded lock's owner, token and metadata.
SELECT owner, fencing_token, metadata FROM locks WHERE key = 'k'
