SELECT queue, state, count(*) AS jobs FROM jobs WHERE namespace = $1 GROUP BY queue, state
