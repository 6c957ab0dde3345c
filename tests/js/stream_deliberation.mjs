// Stream one deliberation from a LangGraph server (moot serve's LangGraph routes) with LangGraph's
// own JS client, @langchain/langgraph-sdk (installed by scripts/npm-tools under .npm-tools/), and
// print every event as one JSON line: {"event": ..., "data": ...}; the last line is a summary
// {"summary": {thread_id, run_id, events, winner, done, stage}}.
//
//   node tests/js/stream_deliberation.mjs URL ASSISTANT "TASK" [API_KEY]
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
// the SDK lives in the repo's .npm-tools/, not beside this script: resolve it from there
const require = createRequire(path.join(root, ".npm-tools", "package.json"));
const { Client } = require("@langchain/langgraph-sdk");

const [url, assistant, task, apiKey] = process.argv.slice(2);
if (!url || !assistant || !task) {
  console.error("usage: node stream_deliberation.mjs URL ASSISTANT TASK [API_KEY]");
  process.exit(2);
}

const client = new Client({ apiUrl: url, apiKey: apiKey ?? null });
const thread = await client.threads.create({ graphId: assistant });
let runId = null;
let last = null;
let count = 0;
for await (const part of client.runs.stream(thread.thread_id, assistant, {
  input: { task },
  streamMode: ["updates", "values", "custom"],
})) {
  count += 1;
  if (part.event === "metadata") runId = part.data.run_id;
  if (part.event === "values") last = part.data;
  if (part.event === "error") {
    console.log(JSON.stringify({ event: part.event, data: part.data }));
    process.exit(1);
  }
  console.log(JSON.stringify({ event: part.event, data: part.data }));
}
const state = await client.threads.getState(thread.thread_id);
console.log(
  JSON.stringify({
    summary: {
      thread_id: thread.thread_id,
      run_id: runId,
      events: count,
      winner: last?.winner ?? null,
      done: last?.done ?? null,
      stage: last?.stage ?? null,
      state_winner: state.values?.winner ?? null,
    },
  }),
);
