// Command testapp is the application container of package docker's tests against a real
// engine: it is packed alone into an image, so nothing is pulled. Run with any argument but
// "health", it waits for SIGTERM; SIGUSR1 makes it sick. "health" is its health check: it
// fails once the container is sick.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

// sickFile marks the container sick; the image's /tmp is writable.
const sickFile = "/tmp/sick"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "health" {
		if _, err := os.Stat(sickFile); err == nil {
			os.Exit(1)
		}
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	for s := range sig {
		if s != syscall.SIGUSR1 {
			return
		}
		if err := os.WriteFile(sickFile, nil, 0o644); err != nil {
			os.Exit(2)
		}
	}
}
