"""The Slack adapter: Bolt listeners (app), Block Kit rendering (blocks), file shares (files), serving (server)."""
