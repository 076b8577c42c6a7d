// Two scenarios at a time, not more: each runs a stack of real processes (some their own
// PostgreSQL or Redis too) on a 2-core machine, and several spend most of their time
// waiting for BullMQ to notice a killed worker's jobs (30-60 s), which the other can use.
module.exports = { ...require('../../jest.base.js')(__dirname), maxWorkers: 2 };
