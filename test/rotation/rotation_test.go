package rotation

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// grace is the rotations' grace period here: long enough that a client
// reading the Secret every 100 ms has switched before the old credential goes.
var grace = &metav1.Duration{Duration: 2 * time.Second}

// setUp creates e's server and a user rotating with r in a new namespace,
// and waits for both.
func setUp(t *testing.T, e engine, r *common.Rotation) (*kubetest.Fixture, user) {
	f := kubetest.NewFixture(t, k8s, "rot-"+e.name+"-")
	f.G.SetDefaultEventuallyTimeout(60 * time.Second)
	objs := e.server(f.NS)
	for _, o := range objs {
		f.Create(o)
	}
	f.WaitReady(objs[len(objs)-1])
	u := e.user(f.NS, "app", r)
	f.Create(u)
	f.WaitReady(u)
	return f, u
}

func secretData(f *kubetest.Fixture, u user) map[string][]byte {
	f.T.Helper()
	return connSecret(f, u).Data
}

func connSecret(f *kubetest.Fixture, u user) *corev1.Secret {
	f.T.Helper()
	s := &corev1.Secret{}
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: u.ConnectionSecretName()}, s)).To(Succeed())
	return s
}

// rotate sets the rotate annotation to value.
func rotate(f *kubetest.Fixture, u user, value string) {
	f.T.Helper()
	f.G.Expect(kubetest.Update(f, u, func(o user) {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[common.RotateAnnotation] = value
		o.SetAnnotations(a)
	})).To(Succeed())
}

// waitRotations waits until n rotations completed and the login is Stable.
func waitRotations(f *kubetest.Fixture, u user, n int64) {
	f.T.Helper()
	f.G.Eventually(func() string {
		if err := k8s.Get(f.Ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err.Error()
		}
		r := u.Login().Rotation
		if r == nil {
			return "no status.rotation"
		}
		return fmt.Sprintf("%s after %d", r.Phase, r.Rotations)
	}).Should(Equal(fmt.Sprintf("%s after %d", common.RotationStable, n)))
}

// prober logs in with whatever the Secret holds every 100 ms.
type prober struct {
	attempts, failures atomic.Int64
	stop               chan struct{}
	done               sync.WaitGroup
}

func probe(f *kubetest.Fixture, e engine, u user) *prober {
	p := &prober{stop: make(chan struct{})}
	p.done.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			s := &corev1.Secret{}
			if err := k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: u.ConnectionSecretName()}, s); err != nil {
				continue
			}
			p.attempts.Add(1)
			ctx, cancel := context.WithTimeout(f.Ctx, 5*time.Second)
			if err := e.use(ctx, s.Data); err != nil {
				p.failures.Add(1)
				f.T.Logf("%s: a login with the Secret's credential of %q failed: %v", e.name, s.Data["username"], err)
			}
			cancel()
		}
	})
	return p
}

func (p *prober) finish() (attempts, failures int64) {
	close(p.stop)
	p.done.Wait()
	return p.attempts.Load(), p.failures.Load()
}

// TestNoFailedLoginThroughRotation rotates each engine's login twice on
// demand while a client logs in every 100 ms with what the Secret holds:
// not one login fails, the old credential no longer logs in afterwards, and
// exactly one credential is left on the server.
func TestNoFailedLoginThroughRotation(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			f, u := setUp(t, e, &common.Rotation{GracePeriod: grace})
			name := u.BackendName()
			p := probe(f, e, u)
			for i := int64(1); i <= 2; i++ {
				before := secretData(f, u)
				start := time.Now()
				rotate(f, u, strconv.FormatInt(i, 10))
				waitRotations(f, u, i)
				t.Logf("%s rotation %d: trigger to old credential retired in %v (grace period %v)", e.name, i, time.Since(start).Round(10*time.Millisecond), grace.Duration)
				after := secretData(f, u)
				f.G.Expect(string(after["password"])).NotTo(Equal(string(before["password"])), "the password changed")
				wantUser := name
				if e.alternating && i == 1 {
					wantUser = name + "_b"
				}
				f.G.Expect(string(after["username"])).To(Equal(wantUser))
				f.G.Expect(u.Login().Rotation.ActiveUsername).To(Equal(wantUser))
				f.G.Expect(e.use(f.Ctx, before)).To(MatchError(errLogin), "the retired credential no longer logs in")
				f.G.Expect(e.use(f.Ctx, after)).To(Succeed())
				f.G.Expect(e.accepted(f.Ctx, name)).To(Equal(1), "one credential is left on the server")
			}
			attempts, failures := p.finish()
			f.G.Expect(failures).To(BeZero(), "failed logins out of %d", attempts)
			f.G.Expect(attempts).To(BeNumerically(">=", 30))
		})
	}
}

// TestRotationSurvivesCrashes rotates every engine's login over and over and
// stops the operator at a random point of each rotation: whenever it is
// down, the Secret's credential logs in and the server accepts one or two
// credentials; once it has finished, exactly one, the Secret's.
func TestRotationSurvivesCrashes(t *testing.T) {
	type login struct {
		e    engine
		f    *kubetest.Fixture
		u    user
		seen []map[string][]byte
	}
	var logins []*login
	for _, e := range engines() {
		f, u := setUp(t, e, &common.Rotation{GracePeriod: &metav1.Duration{Duration: time.Second}})
		logins = append(logins, &login{e: e, f: f, u: u})
	}
	const rounds = 8
	for round := range rounds {
		for _, l := range logins {
			rotate(l.f, l.u, "crash-"+strconv.Itoa(round))
		}
		time.Sleep(time.Duration(rand.Int64N(int64(2500 * time.Millisecond))))
		if err := op.stop(); err != nil {
			t.Fatal(err)
		}
		for _, l := range logins {
			data := secretData(l.f, l.u)
			l.seen = append(l.seen, data)
			if err := l.e.use(l.f.Ctx, data); err != nil {
				t.Errorf("round %d, %s: the Secret's credential does not log in while the operator is down", round, l.e.name)
			}
			n, err := l.e.accepted(l.f.Ctx, l.u.BackendName())
			if err != nil || n < 1 || n > 2 {
				t.Errorf("round %d, %s: the server accepts %d credentials (%v), want 1 or 2", round, l.e.name, n, err)
			}
		}
		if err := op.start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range logins {
		l.f.G.Eventually(func() string {
			if err := k8s.Get(l.f.Ctx, client.ObjectKeyFromObject(l.u), l.u); err != nil {
				return err.Error()
			}
			r := l.u.Login().Rotation
			if r == nil {
				return "no status.rotation"
			}
			// The last annotation value is acted on once the one before it is done.
			if r.LastTrigger != "crash-"+strconv.Itoa(rounds-1) {
				return "last trigger " + r.LastTrigger
			}
			return string(r.Phase)
		}, 90*time.Second).Should(Equal(string(common.RotationStable)), l.e.name)
		final := secretData(l.f, l.u)
		l.f.G.Expect(l.e.use(l.f.Ctx, final)).To(Succeed(), l.e.name)
		l.f.G.Expect(l.e.accepted(l.f.Ctx, l.u.BackendName())).To(Equal(1), l.e.name)
		for _, old := range l.seen {
			if string(old["password"]) != string(final["password"]) {
				l.f.G.Expect(l.e.use(l.f.Ctx, old)).To(MatchError(errLogin), "%s: a retired credential still logs in", l.e.name)
			}
		}
		// Every rotation overlapped: none fell back to InPlace because the
		// engine was asked before it knew what it is (a fresh connection).
		var events eventsv1.EventList
		l.f.G.Expect(k8s.List(l.f.Ctx, &events, client.InNamespace(l.f.NS))).To(Succeed())
		for _, ev := range events.Items {
			if ev.Reason == "RotationStarted" && strings.Contains(ev.Note, "with InPlace") {
				t.Errorf("%s: a rotation ran in place: %s", l.e.name, ev.Note)
			}
		}
		t.Logf("%s: %d rotations completed across %d operator crashes", l.e.name, l.u.Login().Rotation.Rotations, rounds)
	}
}

// TestDrainRetiresWhenIdle: with drain, PostgreSQL's previous login is
// retired as soon as it has no open session, long before its grace period
// ends, and not while a session of it is open.
func TestDrainRetiresWhenIdle(t *testing.T) {
	e := engines()[0]
	hour := &metav1.Duration{Duration: time.Hour}
	f, u := setUp(t, e, &common.Rotation{GracePeriod: hour, Drain: &common.Drain{MaxWait: hour}})

	// Idle: retired right after the publication.
	start := time.Now()
	rotate(f, u, "1")
	waitRotations(f, u, 1)
	t.Logf("drain, idle previous login: retired %v after the trigger (grace period 1h)", time.Since(start).Round(10*time.Millisecond))

	// Busy: a session of the current login holds the next rotation in Draining.
	held, err := pgConnect(f.Ctx, secretData(f, u), "postgres")
	f.G.Expect(err).NotTo(HaveOccurred())
	rotate(f, u, "2")
	f.G.Eventually(func() common.RotationPhase {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
		return u.Login().Rotation.Phase
	}).Should(Equal(common.RotationDraining))
	f.G.Consistently(func() common.RotationPhase {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
		return u.Login().Rotation.Phase
	}, 3*time.Second, 200*time.Millisecond).Should(Equal(common.RotationDraining))
	f.G.Expect(held.Close(f.Ctx)).To(Succeed())
	waitRotations(f, u, 2)
	f.G.Expect(e.accepted(f.Ctx, u.BackendName())).To(Equal(1))
}

// TestReferencedSecretRotates: a login whose password comes from
// spec.passwordSecretRef rotates, with the same overlap, when that Secret's
// password changes, and no login fails meanwhile.
func TestReferencedSecretRotates(t *testing.T) {
	e := engines()[2] // redis
	f := kubetest.NewFixture(t, k8s, "rot-ref-")
	f.G.SetDefaultEventuallyTimeout(60 * time.Second)
	objs := e.server(f.NS)
	for _, o := range objs {
		f.Create(o)
	}
	f.WaitReady(objs[len(objs)-1])
	ref := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-password", Namespace: f.NS,
		Labels: map[string]string{"backend-operator.dev/watch": "true"}},
		Data: map[string][]byte{"password": []byte("first-Password-0123456789")}}
	f.Create(ref)
	u := e.user(f.NS, "app", &common.Rotation{GracePeriod: grace}).(*cachev1.CacheUser)
	u.Spec.PasswordSecretRef = &common.SecretKeyReference{SecretReference: common.SecretReference{Name: ref.Name}}
	f.Create(u)
	f.WaitReady(u)
	before := secretData(f, u)
	f.G.Expect(string(before["password"])).To(Equal("first-Password-0123456789"))

	p := probe(f, e, u)
	f.G.Expect(kubetest.Update(f, ref, func(s *corev1.Secret) { s.Data["password"] = []byte("second-Password-0123456789") })).To(Succeed())
	waitRotations(f, u, 1)
	attempts, failures := p.finish()
	f.G.Expect(failures).To(BeZero(), "failed logins out of %d", attempts)
	after := secretData(f, u)
	f.G.Expect(string(after["password"])).To(Equal("second-Password-0123456789"))
	f.G.Expect(e.use(f.Ctx, before)).To(MatchError(errLogin))
	f.G.Expect(e.accepted(f.Ctx, u.BackendName())).To(Equal(1))
}
