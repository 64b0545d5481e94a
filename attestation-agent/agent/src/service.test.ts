import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SampleAttester, SampleDeviceAttester } from '@kata-cc/attester';
import { hasCode } from '@kata-cc/errors';
import { tempDir } from '@kata-cc/testing';
import { TtrpcClient, TtrpcServer } from '@kata-cc/ttrpc';
import { DEFAULT_AA_CONFIG, parseAaConfig } from './config.js';
import { EventLog } from './eventlog.js';
import { AttestationAgent } from './service.js';
import { AA_SERVICE, aaType, registerAttestationAgentService } from './ttrpc.js';

const { dir, cleanup } = await tempDir('aa-');
after(cleanup);

async function serve(aa: AttestationAgent): Promise<TtrpcClient> {
  const server = new TtrpcServer();
  registerAttestationAgentService(server, aa);
  const sock = path.join(dir, `aa-${Math.random().toString(36).slice(2)}.sock`);
  await server.listen({ path: sock });
  const client = await TtrpcClient.connect(`unix://${sock}`);
  after(async () => {
    client.close();
    await server.close();
    await aa.close();
  });
  return client;
}

const call = <Req, Res>(c: TtrpcClient, method: string, req: string, res: string, body: Req) =>
  c.request<Req, Res>(AA_SERVICE, method, aaType<Req>(req), aaType<Res>(res), body);

test('AA GetEvidence/GetTeeType/GetAdditionalTees over ttRPC with the sample attester', async () => {
  const c = await serve(new AttestationAgent(DEFAULT_AA_CONFIG, undefined, { attester: new SampleAttester() }));
  const rd = Buffer.from('0123456789abcdef');
  const ev = await call<{ RuntimeData: Buffer }, { Evidence: Buffer }>(c, 'GetEvidence', 'GetEvidenceRequest', 'GetEvidenceResponse', { RuntimeData: rd });
  assert.deepEqual(JSON.parse(ev.Evidence.toString()), { svn: '1', report_data: rd.toString('base64') });
  assert.deepEqual(await call(c, 'GetTeeType', 'GetTeeTypeRequest', 'GetTeeTypeResponse', {}), { tee: 'sample' });
  assert.deepEqual(await call(c, 'GetAdditionalTees', 'GetAdditionalTeesRequest', 'GetAdditionalTeesResponse', {}), { additional_tees: [] });
  await assert.rejects(
    call(c, 'GetEvidence', 'GetEvidenceRequest', 'GetEvidenceResponse', { RuntimeData: Buffer.alloc(65) }),
    (e) => hasCode(e, 'ATTESTER_REPORT_DATA_TOO_LONG'),
  );
});

test('AA GetToken refuses without a KBS and for other token types', async () => {
  const c = await serve(new AttestationAgent(DEFAULT_AA_CONFIG, undefined, { attester: new SampleAttester() }));
  await assert.rejects(call(c, 'GetToken', 'GetTokenRequest', 'GetTokenResponse', { TokenType: 'kbs' }), (e) => hasCode(e, 'AA_NO_KBS_CONFIGURED'));
  await assert.rejects(call(c, 'GetToken', 'GetTokenRequest', 'GetTokenResponse', { TokenType: 'coco_as' }), (e) => hasCode(e, 'AA_UNSUPPORTED_TOKEN_TYPE'));
});

test('AA ExtendRuntimeMeasurement writes the event log and uses the default PCR when RegisterIndex is absent', async () => {
  const attester = new SampleAttester();
  const logDir = path.join(dir, 'aael');
  const eventlog = await EventLog.open(logDir, attester.runtimeMeasurement, 17);
  const config = parseAaConfig('[eventlog_config]\nenable_eventlog = true\ninit_pcr = 17\n');
  const c = await serve(new AttestationAgent(config, undefined, { attester, eventlog }));
  type Ext = { Domain: string; Operation: string; Content: string; RegisterIndex?: number };
  await call<Ext, object>(c, 'ExtendRuntimeMeasurement', 'ExtendRuntimeMeasurementRequest', 'ExtendRuntimeMeasurementResponse', { Domain: 'github.com/confidential-containers', Operation: 'PullImage', Content: '{"image":"alpine"}' });
  assert.notDeepEqual(Buffer.from(await attester.runtimeMeasurement.read(17)), Buffer.alloc(48));
  assert.deepEqual(Buffer.from(await attester.runtimeMeasurement.read(0)), Buffer.alloc(48));
  await call<Ext, object>(c, 'ExtendRuntimeMeasurement', 'ExtendRuntimeMeasurementRequest', 'ExtendRuntimeMeasurementResponse', { Domain: 'd', Operation: 'o', Content: 'c', RegisterIndex: 0 });
  assert.notDeepEqual(Buffer.from(await attester.runtimeMeasurement.read(0)), Buffer.alloc(48));
  await assert.rejects(call<Ext, object>(c, 'ExtendRuntimeMeasurement', 'ExtendRuntimeMeasurementRequest', 'ExtendRuntimeMeasurementResponse', { Domain: 'd d', Operation: 'o', Content: 'c' }), /Invalid event/);
});

test('AA ExtendRuntimeMeasurement without an event log is a clear failure', async () => {
  const aa = new AttestationAgent(DEFAULT_AA_CONFIG, undefined, { attester: new SampleAttester() });
  await assert.rejects(aa.extendRuntimeMeasurement({ domain: 'd', operation: 'o', content: 'c' }), (e) => hasCode(e, 'AA_EVENTLOG_DISABLED'));
  assert.equal(await aa.bindInitData(new Uint8Array(48)), 'unsupported');
});

test('AA GetAdditionalEvidence/GetAdditionalTees report the device attesters', async () => {
  const aa = new AttestationAgent(DEFAULT_AA_CONFIG, undefined, { attester: new SampleAttester(), additionalAttesters: [new SampleDeviceAttester()] });
  assert.deepEqual(aa.getAdditionalTees(), ['sampledevice']);
  assert.deepEqual(JSON.parse(Buffer.from(await aa.getAdditionalEvidence(Buffer.from('rd'))).toString()), { sampledevice: { svn: '2', report_data: Buffer.from('rd').toString('base64') } });
  const none = new AttestationAgent(DEFAULT_AA_CONFIG, undefined, { attester: new SampleAttester() });
  assert.equal((await none.getAdditionalEvidence(Buffer.from('rd'))).length, 0);
});
