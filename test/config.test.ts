/** The metrics and tracing part of the configuration: when tracing is on, and what it is told. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('METRICS_TOKEN and the OTEL_* variables', () => {
  it('leaves tracing off without a variable that names an exporter or an endpoint', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(
      loadConfig({ OTEL_SERVICE_NAME: 'gateway', OTEL_TRACES_SAMPLER: 'always_on' }).tracing,
    ).toBeUndefined();
    expect(
      loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing,
    ).toBeUndefined();
    expect(
      loadConfig({ OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'console' }).tracing,
    ).toBeUndefined();
    expect(loadConfig({}).metricsToken).toBeUndefined();
  });

  it('exports over OTLP to the endpoint set, with its protocol and headers', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      serviceName: 'exposure-gateway',
      resourceAttributes: {},
      otlp: { url: 'http://collector:4318/v1/traces', protocol: 'http/protobuf', headers: {} },
      console: false,
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    const tracing = loadConfig({
      OTEL_TRACES_EXPORTER: 'otlp, console',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/ingest',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=one,tenant-header=a%20b',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=two',
      OTEL_SERVICE_NAME: 'gateway-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.namespace=security',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    }).tracing;
    expect(tracing).toEqual({
      serviceName: 'gateway-eu',
      resourceAttributes: { 'deployment.environment': 'prod', 'service.namespace': 'security' },
      otlp: {
        url: 'https://traces.example/ingest',
        protocol: 'http/json',
        headers: { 'api-key': 'two', 'tenant-header': 'a b' },
      },
      console: true,
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
  });

  it('prints spans to the console alone, and sends OTLP to the default collector without an endpoint', () => {
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }).tracing).toMatchObject({ console: true });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'console' }).tracing?.otlp).toBeUndefined();
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.otlp?.url).toBe(
      'http://localhost:4318/v1/traces',
    );
  });

  it('refuses bad values, naming each variable', () => {
    const refused = () =>
      loadConfig({
        METRICS_TOKEN: 'short',
        OTEL_TRACES_EXPORTER: 'otlp,zipkin',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_HEADERS: 'no-value',
        OTEL_TRACES_SAMPLER_ARG: '2',
      });
    expect(refused).toThrow(ConfigError);
    const lines = [
      'METRICS_TOKEN: must be at least 16 characters',
      'OTEL_TRACES_EXPORTER: "zipkin" is not otlp, console or none (comma-separated)',
      'OTEL_EXPORTER_OTLP_PROTOCOL: must be http/protobuf or http/json (grpc is not available)',
      'OTEL_EXPORTER_OTLP_HEADERS: "no-value" is not key=value (values percent-encoded)',
      'OTEL_TRACES_SAMPLER_ARG: ',
    ];
    // Every problem at once, in one message.
    expect(refused).toThrow(`invalid environment:\n  ${lines.join('\n  ')}`);
    expect(loadConfig({ METRICS_TOKEN: 'a-token-of-16-ch' }).metricsToken).toBe('a-token-of-16-ch');
  });
});
