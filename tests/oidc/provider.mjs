// A real OpenID Provider for the sign-in tests: panva's oidc-provider (a certified OP library) on
// 127.0.0.1, with its development login form (any password) and one confidential client, the app.
// Usage: node provider.mjs <port> <redirect_uri> <node_modules dir holding oidc-provider>.
// Prints "ready <issuer>" when it listens.
// Accounts: the login name is the subject; ID tokens carry email, name and cognito:groups, as Cognito's do.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [port, redirectUri, nodeModules] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const entry = join(nodeModules, "oidc-provider", "lib", "index.js");
const { default: Provider } = await import(pathToFileURL(entry).href);
const GROUPS = { rita: ["ragloop-reviewers"], adam: ["ragloop-admins"] };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: "ragloop",
      client_secret: "ragloop-test-client-secret",
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [redirectUri], // Streamlit's st.logout returns through its callback
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: { openid: ["sub"], email: ["email"], profile: ["name", "cognito:groups"] },
  conformIdTokenClaims: false, // scope claims in the ID token, where Streamlit's st.user reads them
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: `${id}@example.com`,
      name: id[0].toUpperCase() + id.slice(1),
      "cognito:groups": GROUPS[id] ?? [],
    }),
  }),
  pkce: { required: () => false },
  cookies: { keys: ["oidc-test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
});
provider.proxy = false;
provider.listen(port, "127.0.0.1", () => console.log(`ready http://127.0.0.1:${port}`));
