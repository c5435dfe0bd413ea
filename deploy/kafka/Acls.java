// Applies deploy/kafka/acls.tsv to a secured broker with Kafka's own Admin client, in one JVM (the
// broker's jars have no kafka-acls.sh tool; one JVM per ACL would add seconds to every start).
// The broker ends up holding exactly the table's ACLs, so a row removed from the table is revoked. Only the
// difference is applied (the missing ones created first, then the extra ones deleted): ACLs that stay
// are never absent, even for a moment, so clients that reconnect while a restarted broker is being
// brought in line are not refused their own topics.
//
// With a credentials directory, a principal of the table that has no SCRAM credential on the broker gets
// one with the password in <credentials>/<principal>: the SCRAM users are made when a data dir is
// formatted, so a principal added to the table later (a new service) could not log in otherwise.
// Existing credentials are never changed.
//
//   java -cp '<libs>/*' Acls.java <client.properties> <acls.tsv> [<credentials-dir>]
import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Acls {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        List<AclBinding> wanted = new ArrayList<>();
        Set<String> principals = new java.util.TreeSet<>();
        int number = 0;
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            number++;
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split("\t");
            if (f.length != 5) throw new IllegalArgumentException(args[1] + ":" + number + ": want 5 fields");
            principals.add(f[0]);
            ResourcePattern resource = new ResourcePattern(
                ResourceType.valueOf(f[1].toUpperCase(Locale.ROOT)),
                f[1].equals("cluster") ? "kafka-cluster" : f[3],
                PatternType.valueOf(f[2].toUpperCase(Locale.ROOT)));
            for (String op : f[4].split(",")) {
                AclOperation operation = AclOperation.fromString(op);
                if (operation == AclOperation.UNKNOWN) {
                    throw new IllegalArgumentException(args[1] + ":" + number + ": unknown operation " + op);
                }
                wanted.add(new AclBinding(resource, new AccessControlEntry(
                    "User:" + f[0], "*", operation, AclPermissionType.ALLOW)));
            }
        }
        int added = 0;
        int revoked = 0;
        List<String> users = new ArrayList<>();
        try (Admin admin = Admin.create(props)) {
            if (args.length > 2) {
                Set<String> known = new HashSet<>(
                    admin.describeUserScramCredentials().users().get(60, TimeUnit.SECONDS));
                List<UserScramCredentialAlteration> missing = new ArrayList<>();
                for (String principal : principals) {
                    Path password = Path.of(args[2], principal);
                    if (known.contains(principal) || !Files.isRegularFile(password)) continue;
                    missing.add(new UserScramCredentialUpsertion(principal,
                        new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
                        Files.readString(password).strip()));
                    users.add(principal);
                }
                if (!missing.isEmpty()) admin.alterUserScramCredentials(missing).all().get(60, TimeUnit.SECONDS);
            }
            Collection<AclBinding> held = admin.describeAcls(AclBindingFilter.ANY).values().get(60, TimeUnit.SECONDS);
            Set<AclBinding> missing = new HashSet<>(wanted);
            missing.removeAll(held);
            if (!missing.isEmpty()) {
                admin.createAcls(missing).all().get(60, TimeUnit.SECONDS);
                added = missing.size();
            }
            List<AclBindingFilter> extra = new ArrayList<>();
            for (AclBinding binding : held) {
                if (!wanted.contains(binding)) extra.add(binding.toFilter());
            }
            if (!extra.isEmpty()) {
                admin.deleteAcls(extra).all().get(60, TimeUnit.SECONDS);
                revoked = extra.size();
            }
        }
        System.out.println(wanted.size() + " ACLs (" + added + " added, " + revoked + " revoked)"
            + (users.isEmpty() ? "" : ", SCRAM credentials made for " + String.join(", ", users)));
    }
}
