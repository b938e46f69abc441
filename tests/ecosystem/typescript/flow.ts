// The TypeScript side of tests/ecosystem/test_generated_clients.py: the flow a client of swatter
// goes through, written against the types openapi-typescript generates from the stack's
// /openapi.json (schema.d.ts, generated next to this file) and called with openapi-fetch. It must
// type-check (tsc, strict) as generated; main.mjs then runs it against the stack.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Issue = components["schemas"]["Issue"];
type Job = components["schemas"]["Job"];
type Problem = components["schemas"]["Problem"];

/** Fails with the problem the API answered. */
function failed(step: string, problem: Problem | undefined): never {
  throw new Error(`${step}: ${problem?.status} ${problem?.detail ?? problem?.title}`);
}

/**
 * Signs up `username`, logs in with the password grant, creates a project and an issue in it,
 * lists the project's issues, asks for a report of the project and downloads its PDF.
 */
export async function projectReport(
  baseUrl: string,
  username: string,
  password: string,
  projectKey: string,
): Promise<ArrayBuffer> {
  const anonymous = createClient<paths>({ baseUrl });
  const signUp = await anonymous.POST("/v1/users", {
    body: { username, email: `${username}@example.com`, password },
  });
  if (!signUp.data) failed("sign up", signUp.error);

  const login = await anonymous.POST("/v1/auth/token", {
    body: { grant_type: "password", username, password },
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (!login.data) failed("log in", login.error);
  const tokens: components["schemas"]["TokenResponse"] = login.data;

  const api = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
  const project = await api.POST("/v1/projects", {
    body: { key: projectKey, name: "Generated TypeScript client" },
  });
  if (!project.data) failed("create the project", project.error);

  const filed = await api.POST("/v1/projects/{key}/issues", {
    params: { path: { key: projectKey } },
    body: { title: "Filed by a generated client", priority: "high", labels: ["typescript"] },
  });
  if (!filed.data) failed("file an issue", filed.error);
  const issue: Issue = filed.data;

  const page = await api.GET("/v1/projects/{key}/issues", {
    params: { path: { key: projectKey }, query: { page_size: 10 } },
  });
  if (!page.data) failed("list the issues", page.error);
  const listed: Issue[] = page.data.items;
  if (!listed.some((item) => item.key === issue.key)) {
    throw new Error(`${issue.key} is not in its project's list`);
  }

  const report: components["schemas"]["ProjectReportRequest"] = {
    kind: "project",
    project_key: projectKey,
  };
  const requested = await api.POST("/v1/reports", { body: report });
  if (!requested.data) failed("ask for a report", requested.error);
  let job: Job = requested.data;
  const deadline = Date.now() + 60_000;
  while (job.state !== "succeeded") {
    if (job.state === "failed" || job.state === "cancelled" || Date.now() > deadline) {
      throw new Error(`report job ${job.id} ended ${job.state}: ${job.error?.message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const polled = await api.GET("/v1/jobs/{id}", { params: { path: { id: job.id } } });
    if (!polled.data) failed("follow the job", polled.error);
    job = polled.data;
  }
  if (job.params.kind !== "project") {
    throw new Error(`job ${job.id} is a ${job.params.kind} report`);
  }
  const covered: components["schemas"]["ProjectReportParams"] = job.params;
  if (covered.project_key !== projectKey) {
    throw new Error(`job ${job.id} reports on ${covered.project_key}`);
  }

  const pdf = await api.GET("/v1/jobs/{id}/artifact/content", {
    params: { path: { id: job.id } },
    parseAs: "arrayBuffer",
  });
  if (pdf.data === undefined) failed("download the PDF", pdf.error);
  return pdf.data;
}
