-- Fault events on `/twin/stream`: a load whose quality stage opened or closed a sensor's fault
-- writes a twin event of its own holding them (sensor, variable, kind, state, hour), with no
-- cells. Ordered and announced like the loads' cell events.
ALTER TABLE twin_events ADD COLUMN faults jsonb;
