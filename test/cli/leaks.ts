/**
 * A corpus of realistic credential leaks (each line as it shows up in a log,
 * an env list, an annotation or a config dump) with the secret it carries,
 * and near-misses that redaction must leave alone. Used by the redaction
 * tests: the unit test (bundle-security.test.ts) and the real-API-server
 * bundle test (diagnose-apiserver.test.ts).
 */
export interface Leak {
  /** The text as it leaks. */
  text: string;
  /** The part that must not be in a written bundle. */
  secret: string;
}

export const LEAKS: Leak[] = [
  { text: 'PGPASSWORD=Leak01-pgpass psql -h pg-rw -U app', secret: 'Leak01-pgpass' },
  { text: "export PGPASSWORD='Leak02 quoted'", secret: 'Leak02 quoted' },
  { text: 'DB_PASSWORD: Leak03-yaml', secret: 'Leak03-yaml' },
  { text: 'POSTGRES_PASSWORD="Leak04-dq"', secret: 'Leak04-dq' },
  {
    text: 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/Leak05EXAMPLEKEY',
    secret: 'wJalrXUtnFEMI/K7MDENG/Leak05EXAMPLEKEY',
  },
  { text: 'aws_secret_access_key = Leak06+abc/def', secret: 'Leak06+abc/def' },
  { text: 'GITHUB_TOKEN=ghp_Leak07aaaaaaaaaaaaaaaaaaaaaaaa', secret: 'ghp_Leak07aaaaaaaaaaaaaaaaaaaaaaaa' },
  { text: 'VAULT_TOKEN: hvs.Leak08token', secret: 'hvs.Leak08token' },
  { text: 'AZURE_STORAGE_KEY=Leak09azureKeyMaterial==', secret: 'Leak09azureKeyMaterial==' },
  { text: 'AZURE_STORAGE_SAS_TOKEN="sv=2021&sig=Leak10sas"', secret: 'Leak10sas' },
  { text: 'could not connect to postgresql://app:Leak11-uri@pg-rw:5432/app', secret: 'Leak11-uri' },
  { text: 'DATABASE_URL=postgres://:Leak12-nouser@pg-rw/app?sslmode=require', secret: 'Leak12-nouser' },
  { text: 'dsn: host=pg-rw port=5432 user=app password=Leak13-dsn dbname=app sslmode=require', secret: 'Leak13-dsn' },
  { text: "conninfo 'host=pg-rw user=streaming_replica password=''Leak14x'' sslmode=verify-full'", secret: 'Leak14x' },
  { text: 'jdbc:postgresql://pg-rw:5432/app?user=app&password=Leak15-jdbc&ssl=true', secret: 'Leak15-jdbc' },
  { text: 'Authorization: Bearer Leak16.bearer.token-abc', secret: 'Leak16.bearer.token-abc' },
  { text: 'GET /metrics HTTP/1.1 authorization: Basic TGVhazE3OmJhc2ljcHc=', secret: 'TGVhazE3OmJhc2ljcHc=' },
  { text: '{"user": "app", "password": "Leak18-json"}', secret: 'Leak18-json' },
  { text: '{"DB_PASSWORD":"Leak19-jsonkey","port":5432}', secret: 'Leak19-jsonkey' },
  { text: '- name: REPLICATION_PASSWORD\n  value: Leak20-envyaml', secret: 'Leak20-envyaml' },
  { text: '{"name":"APP_SECRET","value":"Leak21-envjson"}', secret: 'Leak21-envjson' },
  { text: '{name: S3_CREDENTIALS, value: Leak22-flow}', secret: 'Leak22-flow' },
  { text: "ALTER ROLE app WITH ENCRYPTED PASSWORD 'Leak23-sql'", secret: 'Leak23-sql' },
  {
    text: 'token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJMZWFrMjQifQ.c2lnbmF0dXJlLUxlYWsyNA',
    secret: 'eyJzdWIiOiJMZWFrMjQifQ',
  },
  { text: '--client-secret=Leak25-flag', secret: 'Leak25-flag' },
  { text: 'api_key: Leak26-apikey', secret: 'Leak26-apikey' },
  { text: 'private_key=Leak27-pk', secret: 'Leak27-pk' },
  {
    text: '-----BEGIN OPENSSH PRIVATE KEY-----\nLeak28PemMaterial\n-----END OPENSSH PRIVATE KEY-----',
    secret: 'Leak28PemMaterial',
  },
];

/** Lines that carry no credential: every one must reach the bundle byte for byte. */
export const NEAR_MISSES: string[] = [
  'FATAL:  password authentication failed for user "app"',
  'LOG:  checkpoint complete: wrote 1234 buffers (7.5%); distance=65536 kB',
  'pg_wal volume pg-1-wal: 85.3% used, 10Gi requested, 9.8Gi capacity',
  'tokenizer: 3 tokens, keyspace size 1048576',
  'cnpg.io/instanceName=pg-1 role=primary timeline=3',
  'archive_command = /controller/manager wal-archive --log-destination /controller/log/postgres.json %p',
];
