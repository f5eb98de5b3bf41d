"""The operations behind both front ends, the CLI (`bounced/cli/`) and the HTTP API
(`bounced/http/`): each rule lives here once; the front ends only parse and print."""
