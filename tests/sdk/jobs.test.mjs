// Jobs through the official SDK: Parse.Cloud.startJob, getJobStatus, getJobsData (master key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Parse from './setup.mjs';

async function finished(jobStatusId) {
  for (let i = 0; i < 500; i += 1) {
    const status = await Parse.Cloud.getJobStatus(jobStatusId);
    if (status.get('status') !== 'running') return status;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the job never finished');
}

test('startJob answers a job status id whose record ends succeeded', async () => {
  const jobStatusId = await Parse.Cloud.startJob('ballast.pruneJobRuns', { days: 5 });
  assert.match(jobStatusId, /^[A-Za-z0-9]{10}$/);
  const status = await finished(jobStatusId);
  assert.equal(status.get('jobName'), 'ballast.pruneJobRuns');
  assert.equal(status.get('status'), 'succeeded');
  assert.deepEqual(status.get('params'), { days: 5 });
  assert.ok(status.get('finishedAt') instanceof Date);
});

test('a job that fails is recorded as failed with its error', async () => {
  const status = await finished(await Parse.Cloud.startJob('ballast.pruneJobRuns', { days: -3 }));
  assert.equal(status.get('status'), 'failed');
  assert.match(status.get('error'), /days must be/);
  assert.match(status.get('message'), /^days must be/, 'as Parse: the thrown text is the message');
});

test('an unknown job is refused with SCRIPT_FAILED', async () => {
  await assert.rejects(Parse.Cloud.startJob('noSuchJob', {}), (error) => error.code === Parse.Error.SCRIPT_FAILED);
});

test('getJobsData lists the app\'s jobs (not Ballast\'s built-ins) and the scheduled ones', async () => {
  const data = await Parse.Cloud.getJobsData();
  assert.ok(Array.isArray(data.jobs));
  assert.ok(!data.jobs.some((name) => name.startsWith('ballast.')));
  assert.ok(Array.isArray(data.in_use));
});
