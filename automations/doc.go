// Package automations runs automations: a trigger (a schedule, a poll of an app's trigger
// flow, a webhook, or a manual start) bound to one or more action flows, each with its
// connection and inputs. An automation is a small YAML document (Parse); its runs are recorded
// in the store with their status and each step's redacted trace.
//
// The schedule lives in the store, never only in memory: each automation's next slot is a
// column, claimed in the transaction that records the slot's run, and a unique (automation,
// slot) key makes a slot run at most once. robfig/cron gives the cron parser and
// Schedule.Next; the loop and the daylight-saving rules are ours (Schedule.Next).
//
// The Store interface is what this package needs from a store. It is written for row locks
// (PostgreSQL's SELECT ... FOR UPDATE SKIP LOCKED) as much as for SQLite: nothing in it assumes
// a single writer or a single process.
package automations
