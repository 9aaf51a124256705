package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RotateAnnotation triggers a rotation on demand: every new value (a date,
// a counter) rotates the credential once.
const RotateAnnotation = "backend-operator.dev/rotate"

// ObserveAnnotation asks for a fresh observation now: every new value
// reconciles the object at once instead of at its next poll.
const ObserveAnnotation = "backend-operator.dev/observe"

// RotationStrategy is how the previous credential keeps working while the
// next one is published.
// +kubebuilder:validation:Enum=Auto;DualPassword;AlternatingUsers;InPlace
type RotationStrategy string

const (
	// RotationAuto picks the engine's overlap: AlternatingUsers on
	// PostgreSQL and RabbitMQ, DualPassword on MariaDB and Redis; InPlace,
	// with a warning condition, on an engine that has neither.
	RotationAuto RotationStrategy = "Auto"
	// RotationDualPassword: one user accepts the old and the new password.
	RotationDualPassword RotationStrategy = "DualPassword"
	// RotationAlternatingUsers: two users with the same rights, "<name>" and
	// "<name>_b", are used in turn; the Secret's username changes.
	RotationAlternatingUsers RotationStrategy = "AlternatingUsers"
	// RotationInPlace: the password changes in place; clients still holding
	// the old one fail until they read the new one.
	RotationInPlace RotationStrategy = "InPlace"
)

// Rotation says when a login's credential is replaced and how the old one
// is retired. A rotation also starts on demand when the annotation
// backend-operator.dev/rotate takes a new value, and, with
// spec.passwordSecretRef, when that Secret's password changes.
// +kubebuilder:validation:XValidation:rule="!has(self.every) || duration(self.every) >= duration('1m')",message="rotation.every must be at least 1m"
type Rotation struct {
	// every rotates on a schedule: the time from one publication to the
	// next rotation, such as 720h. Unset: only on demand. Not allowed with
	// spec.passwordSecretRef, whose Secret decides the password.
	// +optional
	Every *metav1.Duration `json:"every,omitempty"`
	// gracePeriod is how long the previous credential keeps working after
	// the new one is published and the rollout (connectionSecret.rollout)
	// completed. Default 10m.
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
	// drain, with AlternatingUsers, watches the previous user's open
	// sessions: it is retired as soon as it has none (even before
	// gracePeriod ends), and one still in use when gracePeriod ends is kept
	// up to maxWait longer. With DualPassword both passwords share one user,
	// so sessions cannot be told apart and gracePeriod alone decides.
	// +optional
	Drain *Drain `json:"drain,omitempty"`
	// strategy: Auto (default) picks the engine's overlap mechanism;
	// DualPassword, AlternatingUsers or InPlace ask for one. A mechanism the
	// engine lacks is reported as InvalidSpec.
	// +optional
	// +kubebuilder:default=Auto
	Strategy RotationStrategy `json:"strategy,omitempty"`
}

// Drain bounds how long a previous credential in use is kept.
type Drain struct {
	// maxWait is how long after gracePeriod a previous user with open
	// sessions is kept before it is retired anyway. Default 10m.
	// +optional
	MaxWait *metav1.Duration `json:"maxWait,omitempty"`
}

// WorkloadKind is a kind of workload a rollout restarts.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet
type WorkloadKind string

// Rollout restarts the workloads that use a connection Secret when its data
// changes, the way `kubectl rollout restart` does: through an annotation on
// their pod template carrying a hash of the data.
type Rollout struct {
	// targets are the workloads, in the object's namespace, to restart.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Targets []RolloutTarget `json:"targets"`
	// minInterval is the least time between two restarts of one workload;
	// a later change waits for it. Default 0 (no limit).
	// +optional
	MinInterval *metav1.Duration `json:"minInterval,omitempty"`
}

// RolloutTarget selects workloads of one kind by name or by label.
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.selector)",message="set exactly one of name or selector"
type RolloutTarget struct {
	// kind is Deployment, StatefulSet or DaemonSet.
	// +required
	Kind WorkloadKind `json:"kind"`
	// name of one workload.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`
	// selector matches workloads by label.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// RotationPhase is where a rotation stands.
type RotationPhase string

const (
	// RotationStable: one credential works; it is in the Secret.
	RotationStable RotationPhase = "Stable"
	// RotationStaged: the next credential is stored and being set on the
	// server; the Secret still holds the current one.
	RotationStaged RotationPhase = "Staged"
	// RotationRollingOut: the Secret holds the new credential; the workloads
	// are restarting; the previous credential still works.
	RotationRollingOut RotationPhase = "RollingOut"
	// RotationDraining: the rollout completed; the previous credential works
	// until status.rotation.previousRetiresAt.
	RotationDraining RotationPhase = "Draining"
)

// RotationStatus reports a login's rotation. Passwords are never in it.
type RotationStatus struct {
	// phase is Stable, Staged, RollingOut or Draining.
	Phase RotationPhase `json:"phase"`
	// strategy is the overlap mechanism in use.
	Strategy RotationStrategy `json:"strategy,omitempty"`
	// activeUsername is the user name the connection Secret holds.
	ActiveUsername string `json:"activeUsername,omitempty"`
	// previousUsername is the user whose previous password still works
	// (Staged, RollingOut, Draining).
	// +optional
	PreviousUsername string `json:"previousUsername,omitempty"`
	// lastRotationTime is when the active credential was published.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`
	// nextRotationTime is when spec.rotation.every next rotates.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`
	// previousRetiresAt is when the grace period of the previous credential
	// ends (Draining); with drain, it goes sooner when idle, or up to
	// drain.maxWait later while it has open sessions.
	// +optional
	PreviousRetiresAt *metav1.Time `json:"previousRetiresAt,omitempty"`
	// waitingFor lists the workloads whose restart has not rolled out yet
	// (RollingOut).
	// +optional
	WaitingFor []string `json:"waitingFor,omitempty"`
	// lastTrigger is the last value of the backend-operator.dev/rotate
	// annotation acted on.
	// +optional
	LastTrigger string `json:"lastTrigger,omitempty"`
	// rotations counts the rotations completed.
	// +optional
	Rotations int64 `json:"rotations,omitempty"`
}

// RolloutStatus reports the last restart of the connection Secret's workloads.
type RolloutStatus struct {
	// dataHash identifies the Secret data every target has been restarted
	// for (an HMAC-SHA256 prefix keyed by a random key kept in the Secret's
	// backend-operator.dev/rollout-key annotation, so it reveals nothing of
	// the data to those who cannot read the Secret).
	DataHash string `json:"dataHash,omitempty"`
	// restartedAt is when they were last restarted.
	// +optional
	RestartedAt *metav1.Time `json:"restartedAt,omitempty"`
	// pending lists workloads waiting for minInterval before their restart.
	// +optional
	Pending []string `json:"pending,omitempty"`
	// missing lists targets named in the rollout that do not exist: nothing
	// is restarted there.
	// +optional
	Missing []string `json:"missing,omitempty"`
}
