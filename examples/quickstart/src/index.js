// A tiny API to try spaire-billing on: `spaire-billing setup` adds middleware that records
// one `api-call` event per request for the signed-in user.
const express = require("express");
const { currentUserId } = require("./auth");

const app = express();
app.use(express.json());

app.get("/api/hello", (req, res) => {
  res.json({ hello: currentUserId(req) ?? "anonymous" });
});

app.listen(process.env.PORT || 3000);
