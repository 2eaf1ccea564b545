// Package redistest starts a real redis-server (Debian's redis-server
// package) for tests: on a free loopback port, in a temporary folder,
// without persistence, stopped when the test ends. Without redis-server
// the test is skipped, or fails under CI (CI=true), where it must run.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Server is a running redis-server.
type Server struct {
	Addr   string        // HOST:PORT
	URL    string        // redis://HOST:PORT/0
	Client *redis.Client // a client of the server, closed with it
	cmd    *exec.Cmd
}

// Start starts a redis-server for t and waits until it answers.
func Start(t testing.TB) *Server {
	t.Helper()
	path := stoqtest.Command(t, "redis-server", "redis-server")
	var lastErr error
	for range 5 { // the free port may be taken between choosing and binding
		s, err := start(t, path)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

func start(t testing.TB, path string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(path,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	client := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			client.Close()
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return nil, fmt.Errorf("redis-server exited (%v): %s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			client.Close()
			return nil, fmt.Errorf("redis-server on %s does not answer: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := &Server{Addr: addr, URL: "redis://" + addr + "/0", Client: client, cmd: cmd}
	t.Cleanup(func() {
		client.Close()
		_ = cmd.Process.Kill()
		<-exited
	})
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
