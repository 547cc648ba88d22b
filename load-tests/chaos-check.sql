-- The chaos harness's verdict, effect by effect, over every application
-- number handed to a client (table chaos_numbers) and the lines the SMS
-- gateway received (table chaos_gateway: one row a line, the message id).
-- One row an effect: how many numbers lack it (lost) and how many have it
-- more than once (doubled). Used by `load-tests/chaos.sh` and by the
-- bounded chaos test in `make test` (services/acikkapi/tests/replicas.rs).
-- Valid on PostgreSQL; the chaos runs only there.
WITH effects (effect, number) AS (
    SELECT 'application', number FROM applications
    UNION ALL SELECT 'routing assignment', number FROM routing_assignments
    UNION ALL SELECT 'routed hop', number FROM routing_hops WHERE kind = 'routed'
    UNION ALL SELECT 'timeline line (routed)', number FROM application_history WHERE status = 2
    UNION ALL SELECT 'SLA clock', number FROM sla_clocks
    UNION ALL SELECT 'receipt SMS', number FROM sms_messages WHERE template = 'receipt'
    UNION ALL SELECT 'receipt at the gateway', m.number
        FROM chaos_gateway g JOIN sms_messages m ON m.id = g.id WHERE m.template = 'receipt'
    UNION ALL SELECT 'reporting row', number FROM rpt_applications
),
names (effect, ord) AS (
    VALUES ('application', 1), ('routing assignment', 2), ('routed hop', 3),
           ('timeline line (routed)', 4), ('SLA clock', 5), ('receipt SMS', 6),
           ('receipt at the gateway', 7), ('reporting row', 8)
),
counted AS (
    SELECT e.effect, n.number, COUNT(x.number) AS c
    FROM chaos_numbers n CROSS JOIN names e
    LEFT JOIN effects x ON x.effect = e.effect AND x.number = n.number
    GROUP BY e.effect, n.number
)
SELECT c.effect,
       SUM(CASE WHEN c.c = 0 THEN 1 ELSE 0 END) AS lost,
       SUM(CASE WHEN c.c > 1 THEN 1 ELSE 0 END) AS doubled
FROM counted c JOIN names e ON e.effect = c.effect
GROUP BY c.effect, e.ord
UNION ALL
-- An application no client was told of: a submission recorded twice (its
-- retry not recognised by its key) or one whose answer never arrived.
SELECT 'application no client holds', 0, COUNT(*)
FROM applications a WHERE NOT EXISTS (SELECT 1 FROM chaos_numbers n WHERE n.number = a.number)
ORDER BY 1;
