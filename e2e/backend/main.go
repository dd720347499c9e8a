// Command backend is the HTTP server the end-to-end tests run in containers behind the SE: it
// answers / with its host name (so a test sees which member served), /100kb.txt with 100 KB,
// and echoes a request body's length on POST /upload. It is built statically and packed into an
// image by the tests; nothing is pulled.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	addr := ":8080"
	if len(os.Args) > 2 && os.Args[1] == "--listen" {
		addr = os.Args[2]
	}
	name, _ := os.Hostname()
	big := strings.Repeat("0123456789abcdef", 100*1024/16)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "from %s\n", name) })
	mux.HandleFunc("GET /100kb.txt", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	srv := &http.Server{Addr: addr, Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
