"""Writes the URDFs in urdf/ from published arm data and simple shapes: python urdf/generate.py"""
import math
from pathlib import Path
OUT = Path(__file__).resolve().parent

def box_I(m, x, y, z):
    return (m*(y*y+z*z)/12, m*(x*x+z*z)/12, m*(x*x+y*y)/12)

def cyl_I(m, r, h, axis='z'):
    a = m*(3*r*r+h*h)/12; c = m*r*r/2
    return {'x': (c, a, a), 'y': (a, c, a), 'z': (a, a, c)}[axis]

def f(v):
    return ' '.join(f'{x:.12g}' for x in v)

def inertial(m, com, I, rpy=(0,0,0)):
    return (f'    <inertial>\n      <origin xyz="{f(com)}" rpy="{f(rpy)}"/>\n      <mass value="{m:.6g}"/>\n'
            f'      <inertia ixx="{I[0]:.6g}" ixy="0" ixz="0" iyy="{I[1]:.6g}" iyz="0" izz="{I[2]:.6g}"/>\n    </inertial>\n')

def geom(kind, dims, xyz, rpy=(0,0,0), color=None, collision=True):
    if kind == 'box':
        g = f'<box size="{f(dims)}"/>'
    elif kind == 'sphere':
        g = f'<sphere radius="{dims[0]:.6g}"/>'
    else:
        g = f'<cylinder radius="{dims[0]:.6g}" length="{dims[1]:.6g}"/>'
    s = f'    <visual>\n      <origin xyz="{f(xyz)}" rpy="{f(rpy)}"/>\n      <geometry>{g}</geometry>\n'
    if color:
        s += f'      <material name="{color[0]}"><color rgba="{f(color[1])}"/></material>\n'
    s += '    </visual>\n'
    if collision:
        s += f'    <collision>\n      <origin xyz="{f(xyz)}" rpy="{f(rpy)}"/>\n      <geometry>{g}</geometry>\n    </collision>\n'
    return s

def link(name, body):
    return f'  <link name="{name}">\n{body}  </link>\n'

pi = math.pi
# ---------------------------------------------------------------- arm6 (UR10e-class)
d1, a2, a3, d4, d5, d6 = 0.1807, -0.6127, -0.57155, 0.17415, 0.11985, 0.11655
BLUE = ('arm_blue', (0.35, 0.55, 0.75, 1)); GREY = ('arm_grey', (0.75, 0.75, 0.78, 1)); DARK = ('dark', (0.2, 0.2, 0.22, 1))
vel = [2.0944, 2.0944, 3.1416, 3.1416, 3.1416, 3.1416]
eff = [330, 330, 150, 56, 56, 56]
lim = [2*pi, 2*pi, pi, 2*pi, 2*pi, 2*pi]
s = ['<?xml version="1.0"?>\n<!-- arm6: a 6-axis collaborative industrial arm of the UR10e class, written for cellctl.\n'
     '     Kinematics from the published UR10e DH parameters (d1 0.1807, a2 -0.6127, a3 -0.57155,\n'
     '     d4 0.17415, d5 0.11985, d6 0.11655 m); joint velocity and torque limits and link masses from\n'
     '     the published UR10e data sheet; inertias of the simple cylinders used as collision geometry.\n'
     '     Joint frames follow the DH convention, so every joint turns about its own z axis. -->\n'
     '<robot name="arm6">\n']
s.append(link('base_link', inertial(4.0, (0,0,0.045), cyl_I(4.0, 0.095, 0.09)) + geom('cyl', (0.095, 0.09), (0,0,0.045), color=DARK)))
# shoulder: vertical housing
m = 7.369
s.append(link('shoulder_link', inertial(m, (0,0,-0.01), cyl_I(m, 0.075, 0.17)) + geom('cyl', (0.075, 0.17), (0,0,-0.005), color=BLUE)))
m = 13.051
body = inertial(m, (a2/2, 0, 0.176), cyl_I(m, 0.06, abs(a2), 'x'))
body += geom('cyl', (0.075, 0.2), (0,0,0.09), color=BLUE)                    # shoulder joint housing along lift axis
body += geom('cyl', (0.055, abs(a2)-0.1), (a2/2,0,0.176), (0,pi/2,0), color=GREY)  # tube
body += geom('cyl', (0.065, 0.16), (a2,0,0.12), color=BLUE)                   # elbow housing
s.append(link('upper_arm_link', body))
m = 3.989
body = inertial(m, (a3/2, 0, 0.04), cyl_I(m, 0.045, abs(a3), 'x'))
body += geom('cyl', (0.045, abs(a3)-0.08), (a3/2,0,0.04), (0,pi/2,0), color=GREY)
body += geom('cyl', (0.05, 0.14), (a3,0,0.1), color=BLUE)                     # wrist 1 housing
s.append(link('forearm_link', body))
m = 2.1
s.append(link('wrist_1_link', inertial(m, (0,-0.06,0), cyl_I(m, 0.047, 0.12, 'y')) + geom('cyl', (0.047, 0.12), (0,-0.06,0), (pi/2,0,0), color=BLUE)))
m = 1.98
s.append(link('wrist_2_link', inertial(m, (0,0.055,0), cyl_I(m, 0.047, 0.11, 'y')) + geom('cyl', (0.047, 0.11), (0,0.055,0), (pi/2,0,0), color=BLUE)))
m = 0.615
s.append(link('wrist_3_link', inertial(m, (0,0,-0.02), cyl_I(m, 0.045, 0.04)) + geom('cyl', (0.045, 0.04), (0,0,-0.02), color=DARK)))
s.append(link('tool0', inertial(0.001, (0,0,0), (1e-7,1e-7,1e-7))))
joints = [
    ('shoulder_pan_joint', 'base_link', 'shoulder_link', (0,0,d1), (0,0,0)),
    ('shoulder_lift_joint', 'shoulder_link', 'upper_arm_link', (0,0,0), (pi/2,0,0)),
    ('elbow_joint', 'upper_arm_link', 'forearm_link', (a2,0,0), (0,0,0)),
    ('wrist_1_joint', 'forearm_link', 'wrist_1_link', (a3,0,d4), (0,0,0)),
    ('wrist_2_joint', 'wrist_1_link', 'wrist_2_link', (0,-d5,0), (pi/2,0,0)),
    ('wrist_3_joint', 'wrist_2_link', 'wrist_3_link', (0,d6,0), (-pi/2,0,0)),
]
for i, (n, p, c, xyz, rpy) in enumerate(joints):
    s.append(f'  <joint name="{n}" type="revolute">\n    <parent link="{p}"/>\n    <child link="{c}"/>\n'
             f'    <origin xyz="{f(xyz)}" rpy="{f(rpy)}"/>\n    <axis xyz="0 0 1"/>\n'
             f'    <limit lower="{-lim[i]:.6f}" upper="{lim[i]:.6f}" effort="{eff[i]}" velocity="{vel[i]}"/>\n  </joint>\n')
s.append('  <joint name="flange" type="fixed">\n    <parent link="wrist_3_link"/>\n    <child link="tool0"/>\n    <origin xyz="0 0 0" rpy="0 0 0"/>\n  </joint>\n')
s.append('</robot>\n')
(OUT/'robots').mkdir(parents=True, exist_ok=True)
(OUT/'robots/arm6.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- parallel grippers
ALU = ('alu', (0.7, 0.7, 0.72, 1)); ORANGE = ('pad', (0.95, 0.5, 0.1, 1))
def gripper(name, force, pad_w, title):
    """A parallel-jaw gripper: palm and two prismatic fingers with pad_w wide pads, `force` N per finger."""
    s = ['<?xml version="1.0"?>\n<!-- ' + title + ': ISO 9409-1-50 coupling, palm, two prismatic fingers.\n'
         '     Each finger joint value is the distance of its inner face from the centre line (0 to 45 mm),\n'
         f'     so the jaw opening is twice the joint value. Grip force up to {force:g} N per finger.\n'
         f'     The tool frame is the mounting face; cellctl cells put the TCP between the fingertips. -->\n<robot name="{name}">\n']
    m = 0.8
    body = inertial(m, (0,0,0.04), box_I(m, 0.06, 0.16, 0.06))
    body += geom('cyl', (0.04, 0.02), (0,0,0.01), color=DARK)
    body += geom('box', (0.06, 0.16, 0.05), (0,0,0.045), color=ALU)
    s.append(link('gripper_base', body))
    for side, sgn in (('left', 1), ('right', -1)):
        m = 0.05
        s.append(link(f'finger_{side}', inertial(m, (0, sgn*0.006, 0.04), box_I(m, pad_w, 0.012, 0.08)) + geom('box', (pad_w, 0.012, 0.08), (0, sgn*0.006, 0.04), color=ORANGE)))
        s.append(f'  <joint name="finger_{side}_joint" type="prismatic">\n    <parent link="gripper_base"/>\n    <child link="finger_{side}"/>\n'
                 f'    <origin xyz="0 0 0.07" rpy="0 0 0"/>\n    <axis xyz="0 {sgn} 0"/>\n'
                 f'    <limit lower="0" upper="0.045" effort="{force:g}" velocity="0.1"/>\n  </joint>\n')
    s.append('</robot>\n')
    (OUT/'tools').mkdir(parents=True, exist_ok=True)
    (OUT/f'tools/{name}.urdf').write_text(''.join(s))

gripper('parallel_gripper', 140, 0.02, 'Parallel-jaw gripper for cellctl')
gripper('panel_gripper', 400, 0.04, 'Heavy-duty parallel-jaw gripper for cellctl, for sheet-metal panels (40 mm pads)')

# ---------------------------------------------------------------- table
WOOD = ('top', (0.55, 0.45, 0.35, 1)); LEG = ('leg', (0.3, 0.3, 0.32, 1))
H = 0.5; L, W, T = 0.6, 1.2, 0.04
s = ['<?xml version="1.0"?>\n<!-- Work table for cellctl: 600 x 1200 mm top, 500 mm high; frame at the floor, top surface at z = 0.5 m. -->\n<robot name="table">\n']
body = inertial(40.0, (0,0,H-T/2), box_I(40.0, L, W, T)) + geom('box', (L, W, T), (0,0,H-T/2), color=WOOD)
for sx in (-1, 1):
    for sy in (-1, 1):
        body += geom('box', (0.04, 0.04, H-T), (sx*(L/2-0.04), sy*(W/2-0.04), (H-T)/2), color=LEG)
s.append(link('table', body))
s.append('</robot>\n')
(OUT/'fixtures').mkdir(parents=True, exist_ok=True)
(OUT/'fixtures/table.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- nest fixture
STEEL = ('steel', (0.45, 0.47, 0.5, 1)); GREEN = ('locator', (0.2, 0.6, 0.3, 1))
s = ['<?xml version="1.0"?>\n<!-- Nest fixture for the bracket: 30 mm base plate; two end stops and four side pins locate the\n'
     '     140 x 50 mm bracket plate with 3 mm clearance a side. The nest (where the bracket frame sits) is the\n'
     '     centre of the base plate top face, 30 mm above the fixture frame. -->\n<robot name="nest_fixture">\n']
body = inertial(8.0, (0,0,0.015), box_I(8.0, 0.26, 0.14, 0.03)) + geom('box', (0.26, 0.14, 0.03), (0,0,0.015), color=STEEL)
for sx in (-1, 1):
    body += geom('box', (0.012, 0.08, 0.015), (sx*(0.073+0.006), 0, 0.0375), color=GREEN)
    for sy in (-1, 1):
        body += geom('box', (0.015, 0.01, 0.015), (sx*0.05, sy*(0.028+0.005), 0.0375), color=GREEN)
s.append(link('fixture_base', body))
s.append('</robot>\n')
(OUT/'fixtures/nest_fixture.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- bracket
RED = ('bracket', (0.8, 0.2, 0.15, 1))
s = ['<?xml version="1.0"?>\n<!-- Steel hinge bracket for cellctl: 140 x 50 x 10 mm plate with a 60 x 50 x 30 mm boss on top.\n'
     '     Frame at the centre of the bottom face. Mass from steel density 7850 kg/m3. -->\n<robot name="bracket">\n']
mp = 7850*0.14*0.05*0.01; mb = 7850*0.06*0.05*0.03; m = mp+mb
zc = (mp*0.005 + mb*0.025)/m
Ip = box_I(mp, 0.14, 0.05, 0.01); Ib = box_I(mb, 0.06, 0.05, 0.03)
I = (Ip[0]+mp*(zc-0.005)**2 + Ib[0]+mb*(0.025-zc)**2, Ip[1]+mp*(zc-0.005)**2 + Ib[1]+mb*(0.025-zc)**2, Ip[2]+Ib[2])
body = inertial(m, (0,0,zc), I) + geom('box', (0.14, 0.05, 0.01), (0,0,0.005), color=RED) + geom('box', (0.06, 0.05, 0.03), (0,0,0.025), color=RED)
s.append(link('bracket', body))
s.append('</robot>\n')
(OUT/'parts').mkdir(parents=True, exist_ok=True)
(OUT/'parts/bracket.urdf').write_text(''.join(s))
print('ok', m)

# ---------------------------------------------------------------- screen (a guard panel robots must go around)
SCREEN = ('screen', (0.95, 0.75, 0.1, 1))
s = ['<?xml version="1.0"?>\n<!-- Guard screen for cellctl: a 400 mm wide, 20 mm thick, 350 mm high steel panel on a 120 x 120 mm\n'
     '     foot, standing on a table between two stations (a weld-spatter or part separator screen). Frame at the\n'
     '     centre of the foot\'s bottom face; the panel lies in the x-z plane. -->\n<robot name="screen">\n']
mp, mf = 7850*0.4*0.02*0.35*0.1, 7850*0.12*0.12*0.01   # a sheet-metal panel (10 % fill) and a 10 mm foot plate
m = mp + mf
body = inertial(m, (0, 0, (mp*0.185 + mf*0.005)/m), box_I(m, 0.4, 0.12, 0.36))
body += geom('box', (0.12, 0.12, 0.01), (0, 0, 0.005), color=DARK) + geom('box', (0.4, 0.02, 0.35), (0, 0, 0.185), color=SCREEN)
s.append(link('screen', body))
s.append('</robot>\n')
(OUT/'fixtures/screen.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- pallet (a carrier a bracket can ride on)
WOOD2 = ('pallet', (0.6, 0.5, 0.3, 1))
s = ['<?xml version="1.0"?>\n<!-- Small carrier for cellctl: 300 x 50 x 10 mm board with a 40 mm handle block at one end to grip\n'
     '     by; a bracket can ride on its free end. Frame at the centre of the bottom face. -->\n<robot name="pallet">\n']
mb, mh = 700*0.30*0.05*0.01, 700*0.04*0.05*0.03
m = mb + mh
com = ((-0.12*mh)/m, 0, (0.005*mb + 0.025*mh)/m)
Ib, Ih = box_I(mb, 0.30, 0.05, 0.01), box_I(mh, 0.04, 0.05, 0.03)
I = tuple(a + b for a, b in zip(Ib, Ih))
I = (I[0], I[1] + mh*0.12**2*0.8, I[2] + mh*0.12**2*0.8)  # parallel-axis share of the handle, roughly
body = inertial(m, com, I) + geom('box', (0.30, 0.05, 0.01), (0, 0, 0.005), color=WOOD2) + geom('box', (0.04, 0.05, 0.03), (-0.12, 0, 0.025), color=WOOD2)
s.append(link('pallet', body))
s.append('</robot>\n')
(OUT/'parts/pallet.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- MIG weld torch (process tools: see cellctl/model/cell.py)
def combine(parts):
    """Mass, centre of mass and inertia about it of solids given as (mass, com, inertia about own com, diagonal)."""
    m = sum(p[0] for p in parts)
    com = tuple(sum(p[0]*p[1][i] for p in parts)/m for i in range(3))
    I = [0.0, 0.0, 0.0]
    for mi, c, Ii in parts:
        d = [c[i]-com[i] for i in range(3)]
        I = [I[0]+Ii[0]+mi*(d[1]**2+d[2]**2), I[1]+Ii[1]+mi*(d[0]**2+d[2]**2), I[2]+Ii[2]+mi*(d[0]**2+d[1]**2)]
    return m, com, tuple(I)

NECK_DEG, BEND_Z, NECK_L, NOZZLE_L, STICK_OUT = 22.0, 0.18, 0.12, 0.06, 0.015
tip = NECK_L + NOZZLE_L + STICK_OUT                              # wire tip along the neck from the bend
TORCH_TCP = (tip*math.sin(math.radians(NECK_DEG)), 0.0, BEND_Z + tip*math.cos(math.radians(NECK_DEG)))
COPPER = ('copper', (0.8, 0.5, 0.25, 1))
s = ['<?xml version="1.0"?>\n<!-- Robotic MIG/MAG torch for cellctl (air-cooled, 22 deg swan neck): ISO 9409-1-50 mount with a\n'
     '     collision-sensor block at the flange, a straight torch body, a neck bent 22 deg towards +x, and a\n'
     '     25 mm nozzle; about 0.35 m long and 2 kg. Collision geometry is primitives only.\n'
     '     The tool frame is the mounting face (z out of the flange). The TCP for cells is the wire tip,\n'
     f'     {STICK_OUT*1000:g} mm stick-out beyond the nozzle, z along the wire pointing out of the torch:\n'
     f'       tcp: {{xyz: [{TORCH_TCP[0]:.4f}, 0, {TORCH_TCP[2]:.4f}], rpy_deg: [0, {NECK_DEG:g}, 0]}} -->\n'
     '<robot name="weld_torch">\n']
solids = [(0.35, (0,0,0.01), cyl_I(0.35, 0.04, 0.02)), (0.55, (0,0,0.05), box_I(0.55, 0.07, 0.07, 0.06)),
          (0.30, (0,0,0.13), cyl_I(0.30, 0.02, 0.10))]
m, com, I = combine(solids)
body = inertial(m, com, I)
body += geom('cyl', (0.04, 0.02), (0,0,0.01), color=DARK)                   # mount adapter
body += geom('box', (0.07, 0.07, 0.06), (0,0,0.05), color=DARK)             # collision sensor / clamp
body += geom('cyl', (0.02, BEND_Z-0.08), (0,0,(0.08+BEND_Z)/2), color=GREY)  # straight torch body
s.append(link('torch_base', body))
solids = [(0.45, (0,0,NECK_L/2), cyl_I(0.45, 0.011, NECK_L)), (0.35, (0,0,NECK_L+NOZZLE_L/2), cyl_I(0.35, 0.0125, NOZZLE_L))]
m, com, I = combine(solids)
body = inertial(m, com, I)
body += geom('cyl', (0.011, NECK_L), (0,0,NECK_L/2), color=GREY)            # swan neck
body += geom('cyl', (0.0125, NOZZLE_L), (0,0,NECK_L+NOZZLE_L/2), color=COPPER)  # gas nozzle (contact tip inside)
s.append(link('torch_neck', body))
s.append(f'  <joint name="torch_neck_joint" type="fixed">\n    <parent link="torch_base"/>\n    <child link="torch_neck"/>\n'
         f'    <origin xyz="0 0 {BEND_Z:g}" rpy="0 {math.radians(NECK_DEG):.12g} 0"/>\n  </joint>\n')
s.append('</robot>\n')
(OUT/'tools/weld_torch.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- nutrunner
BODY_L, SOCKET_L = 0.30, 0.045
SPINDLE_Z = 0.02 + BODY_L
s = ['<?xml version="1.0"?>\n<!-- Straight electric nutrunner for cellctl: ISO 9409-1-50 mount, a 70 mm x 300 mm motor and gear\n'
     '     body (4 kg), and a continuous joint "spindle" about z at its end driving a socket. Spindle limits:\n'
     '     60 N m, 30 rad/s (about 290 rpm). The tool frame is the mounting face (z out of the flange); the\n'
     '     spindle turns about that z axis, so a positive turn tightens a right-hand thread whose bolt travels\n'
     '     along +z. The TCP for cells is the socket mouth on the spindle axis, z along the spindle:\n'
     f'       tcp: {{xyz: [0, 0, {SPINDLE_Z+SOCKET_L:g}]}} -->\n<robot name="nutrunner">\n']
solids = [(0.3, (0,0,0.01), cyl_I(0.3, 0.04, 0.02)), (3.7, (0,0,0.02+BODY_L/2), cyl_I(3.7, 0.035, BODY_L))]
m, com, I = combine(solids)
body = inertial(m, com, I)
body += geom('cyl', (0.04, 0.02), (0,0,0.01), color=DARK)                   # mount adapter
body += geom('cyl', (0.035, BODY_L), (0,0,0.02+BODY_L/2), color=BLUE)       # motor, gear and transducer
s.append(link('nutrunner_base', body))
m = 0.15
s.append(link('socket', inertial(m, (0,0,SOCKET_L/2), cyl_I(m, 0.012, SOCKET_L)) + geom('cyl', (0.012, SOCKET_L), (0,0,SOCKET_L/2), color=GREY)))
s.append(f'  <joint name="spindle" type="continuous">\n    <parent link="nutrunner_base"/>\n    <child link="socket"/>\n'
         f'    <origin xyz="0 0 {SPINDLE_Z:g}" rpy="0 0 0"/>\n    <axis xyz="0 0 1"/>\n'
         f'    <limit effort="60" velocity="30"/>\n    <dynamics damping="0.01" friction="0"/>\n  </joint>\n')
s.append('</robot>\n')
(OUT/'tools/nutrunner.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- servo spot-weld C-gun
# The electrode axis runs along the tool's x; the sheet edge enters the throat from +z (the gun points at it).
THROAT, GAP, OPENING, JAW_END = 0.20, 0.12, 0.025, 0.02    # throat depth, gap between the jaws, stroke, jaw below the axis
CROSS_Z = 0.17                                                # underside of the C's back (crossbar)
AXIS_Z = CROSS_Z + THROAT                                     # electrode axis
TIP_X = -OPENING/2                                            # fixed electrode tip; the open moving tip is at +OPENING/2
CLAMP_N, CLOSE_SPEED = 3000, 0.25                             # servo clamp force (N) and closing speed (m/s)
CAP_R = 0.008                                                 # domed electrode caps (16 mm), on 16 mm shanks
s = ['<?xml version="1.0"?>\n<!-- Servo spot-weld C-gun for cellctl: ISO 9409-1-50 mount, a body holding the weld transformer and\n'
     f'     the servo drive, a C-frame with a {THROAT*1000:g} mm deep, {GAP*1000:g} mm wide throat, a fixed electrode on one jaw and a\n'
     '     moving electrode on the other, driven along the electrode axis (the tool x axis) by a coaxial servo\n'
     f'     actuator; domed 16 mm electrode caps. Joint "electrode" (prismatic) is the opening between the electrode\n'
     f'     tips: 0 (closed) to {OPENING*1000:g} mm (open); its effort is the rated clamp force, {CLAMP_N} N, its velocity the\n'
     '     closing speed. About 6 kg. Collision geometry is primitives only. The tool frame is the mounting face (z out\n'
     '     of the flange); a sheet edge enters the throat from +z. The TCP for cells is the fixed electrode tip, z along\n'
     '     the electrode axis pointing at the sheet (towards the moving electrode), x back into the throat:\n'
     f'       tcp: {{xyz: [{TIP_X:g}, 0, {AXIS_Z:g}], rpy_deg: [0, 90, 0]}} -->\n<robot name="spot_gun">\n']
jaw_h = THROAT + JAW_END
jaw_x = GAP/2 + 0.015
def fixed(name, parent, child, xyz=(0, 0, 0)):
    return (f'  <joint name="{name}" type="fixed">\n    <parent link="{parent}"/>\n    <child link="{child}"/>\n'
            f'    <origin xyz="{f(xyz)}" rpy="0 0 0"/>\n  </joint>\n')

# one link per colour (PyBullet shows a link in one colour): body, C-frame, servo actuator, the two electrodes
solids = [(0.3, (0,0,0.01), cyl_I(0.3, 0.04, 0.02)), (2.5, (0,0,0.08), box_I(2.5, 0.16, 0.10, 0.12))]
m, com, I = combine(solids)
body = inertial(m, com, I)
body += geom('cyl', (0.04, 0.02), (0,0,0.01), color=DARK)                                # mount adapter
body += geom('box', (0.16, 0.10, 0.12), (0,0,0.08), color=DARK)                          # transformer and servo drive
s.append(link('gun_base', body))
solids = [(0.6, (0,0,CROSS_Z-0.015), box_I(0.6, GAP+0.06, 0.05, 0.03)),
          (0.5, (-jaw_x,0,CROSS_Z+jaw_h/2), box_I(0.5, 0.03, 0.05, jaw_h)), (0.5, (jaw_x,0,CROSS_Z+jaw_h/2), box_I(0.5, 0.03, 0.05, jaw_h))]
m, com, I = combine(solids)
body = inertial(m, com, I)
body += geom('box', (GAP+0.06, 0.05, 0.03), (0,0,CROSS_Z-0.015), color=BLUE)             # back of the C
body += geom('box', (0.03, 0.05, jaw_h), (-jaw_x,0,CROSS_Z+jaw_h/2), color=BLUE)         # fixed jaw
body += geom('box', (0.03, 0.05, jaw_h), (jaw_x,0,CROSS_Z+jaw_h/2), color=BLUE)          # moving jaw
s.append(link('c_frame', body))
s.append(fixed('c_frame_joint', 'gun_base', 'c_frame'))
servo_x = GAP/2 + 0.03 + 0.045
s.append(link('servo_actuator', inertial(1.5, (0,0,0), cyl_I(1.5, 0.03, 0.09, 'x')) + geom('cyl', (0.03, 0.09), (0,0,0), (0,pi/2,0), color=GREY)))
s.append(fixed('servo_actuator_joint', 'c_frame', 'servo_actuator', (servo_x, 0, AXIS_Z)))   # on the electrode axis
shank_l = (TIP_X - CAP_R) + GAP/2                                                         # jaw face to the cap's centre
m = 0.2
body = inertial(m, (TIP_X - CAP_R - shank_l/2, 0, 0), cyl_I(m, CAP_R, shank_l, 'x'))
body += geom('cyl', (CAP_R, shank_l), (TIP_X - CAP_R - shank_l/2, 0, 0), (0,pi/2,0), color=GREY)
body += geom('sphere', (CAP_R,), (TIP_X - CAP_R, 0, 0), color=COPPER)
s.append(link('fixed_electrode', body))
s.append(fixed('fixed_electrode_joint', 'c_frame', 'fixed_electrode', (0, 0, AXIS_Z)))
shank_l = GAP/2 - TIP_X - CAP_R                                                           # closed: reaches back to the jaw
m = 0.25
body = inertial(m, (CAP_R + shank_l/2, 0, 0), cyl_I(m, CAP_R, shank_l, 'x'))
body += geom('cyl', (CAP_R, shank_l), (CAP_R + shank_l/2, 0, 0), (0,pi/2,0), color=GREY)
body += geom('sphere', (CAP_R,), (CAP_R, 0, 0), color=COPPER)
s.append(link('moving_electrode', body))
s.append(f'  <joint name="electrode" type="prismatic">\n    <parent link="c_frame"/>\n    <child link="moving_electrode"/>\n'
         f'    <origin xyz="{TIP_X:g} 0 {AXIS_Z:g}" rpy="0 0 0"/>\n    <axis xyz="1 0 0"/>\n'
         f'    <limit lower="0" upper="{OPENING:g}" effort="{CLAMP_N}" velocity="{CLOSE_SPEED:g}"/>\n  </joint>\n')
s.append('</robot>\n')
(OUT/'tools/spot_gun.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- flanged panel (spot-weld work)
# A 300 x 150 mm steel panel (1.5 mm) with an 80 mm flange standing along its +y edge: two 1.5 mm sheets, the
# stack the gun welds; a 24 mm hinge reinforcement sits behind the flange near its +x end (too thick to weld through).
PANEL, FLANGE_H, STACK = (0.30, 0.15, 0.0015), 0.08, 0.003
REINF = (0.05, 0.024, 0.07, 0.115)                             # x, y, z size and x centre of the reinforcement
s = ['<?xml version="1.0"?>\n<!-- Flanged steel panel for cellctl spot welding: a 300 x 150 x 1.5 mm sheet with an 80 mm high flange\n'
     '     along its +y edge made of two 1.5 mm sheets (a 3 mm stack, outer face at y = 75 mm, top edge at z = 81.5 mm),\n'
     '     and a 50 x 24 x 70 mm hinge reinforcement behind the flange at x = 90..140 mm. Frame at the centre of the\n'
     '     bottom face. Mass from steel density 7850 kg/m3. -->\n<robot name="flange_panel">\n']
Y_OUT = PANEL[1]/2
parts = [(PANEL, (0, 0, PANEL[2]/2)),
         ((PANEL[0], STACK, FLANGE_H), (0, Y_OUT - STACK/2, PANEL[2] + FLANGE_H/2)),
         (REINF[:3], (REINF[3], Y_OUT - STACK - REINF[1]/2, PANEL[2] + REINF[2]/2))]
solids = [(7850*a*b*c, xyz, box_I(7850*a*b*c, a, b, c)) for (a, b, c), xyz in parts]
m, com, I = combine(solids)
body = inertial(m, com, I)
for size, xyz in parts:
    body += geom('box', size, xyz, color=GREY)
s.append(link('flange_panel', body))
s.append('</robot>\n')
(OUT/'parts/flange_panel.urdf').write_text(''.join(s))

# ---------------------------------------------------------------- door sub-assembly cell (sim/door_cell.yaml)
def finish(s, rel):
    """Close a URDF and write it under urdf/."""
    s.append('</robot>\n')
    (OUT/rel).write_text(''.join(s))

def stand(name, L, W, H, comment, color=STEEL):
    """A welded steel stand: an L x W x 30 mm top plate at height H on four 60 mm square legs; frame at the floor.
    Returns the URDF's opening with the legs as their own link (PyBullet shows a link in one colour) and the top's body."""
    s = [f'<?xml version="1.0"?>\n<!-- {comment}\n     {L*1000:g} x {W*1000:g} mm top, {H*1000:g} mm high; frame at the floor, top surface at z = {H:g} m. -->\n<robot name="{name}">\n']
    legs = inertial(20.0, (0, 0, H/2), box_I(20.0, L, W, H))
    for sx in (-1, 1):
        for sy in (-1, 1):
            legs += geom('box', (0.06, 0.06, H-0.03), (sx*(L/2-0.05), sy*(W/2-0.05), (H-0.03)/2), color=LEG)
    s.append(link(f'{name}_legs', legs))
    s.append(fixed(f'{name}_top_joint', f'{name}_legs', name))
    body = inertial(40.0, (0, 0, H-0.015), box_I(40.0, L, W, 0.03)) + geom('box', (L, W, 0.03), (0, 0, H-0.015), color=color)
    return s, body

JIG_H, JIG_L, JIG_W = 0.70, 0.86, 0.56
PANEL_L, PANEL_W, PANEL_T = 0.80, 0.50, 0.0012          # door inner panel, 1.2 mm steel
PIN_R, PIN_H, PIN_GAP = 0.008, 0.03, 0.003               # locating pins: 16 mm, 30 mm high, 3 mm from the panel's edges
s, body = stand('door_jig', JIG_L, JIG_W, JIG_H, 'Door jig for cellctl: a steel table whose top carries five locating pins round the 800 x 500 mm door\n'
                '     inner panel (3 mm clearance a side): two on the hinge edge (-x), one on each other edge. The panel\'s frame\n'
                '     (the centre of its bottom face) sits at the centre of the top surface.')
px, py = PANEL_L/2 + PIN_GAP + PIN_R, PANEL_W/2 + PIN_GAP + PIN_R
s.append(link('door_jig', body))
pins = inertial(0.2, (0, 0, JIG_H + PIN_H/2), (1e-4, 1e-4, 1e-4))
for xy in ((-px, -0.21), (-px, 0.21), (px, 0.0), (0.25, -py), (0.25, py)):
    pins += geom('cyl', (PIN_R, PIN_H), (xy[0], xy[1], JIG_H + PIN_H/2), color=GREEN)
s.append(link('locating_pins', pins))
s.append(fixed('locating_pins_joint', 'door_jig', 'locating_pins'))
finish(s, 'fixtures/door_jig.urdf')

s, body = stand('infeed_stand', 0.90, 0.85, JIG_H, 'Infeed stand for cellctl: the door inner panel lies on the -y part of the top, the hinge\n'
                '     reinforcement brackets on a strip along its +y edge.')
s.append(link('infeed_stand', body))
finish(s, 'fixtures/infeed_stand.urdf')

s, body = stand('outfeed_stand', 0.90, 0.60, JIG_H, 'Outfeed stand for cellctl: finished door sub-assemblies are put down here.')
s.append(link('outfeed_stand', body))
finish(s, 'fixtures/outfeed_stand.urdf')

YELLOW = ('feeder', (0.9, 0.75, 0.2, 1))
s = ['<?xml version="1.0"?>\n<!-- Bolt supply for cellctl: a pedestal with a vibratory bowl feeder (300 mm bowl) that presents hinge bolts.\n'
     '     Frame at the floor; the bowl\'s rim at z = 1.0 m. -->\n<robot name="bolt_feeder">\n']
body = inertial(45.0, (0, 0, 0.45), box_I(45.0, 0.25, 0.25, 0.9))
body += geom('box', (0.25, 0.25, 0.85), (0, 0, 0.425), color=DARK) + geom('cyl', (0.15, 0.15), (0, 0, 0.925), color=YELLOW)
s.append(link('bolt_feeder', body))
finish(s, 'fixtures/bolt_feeder.urdf')

# the panel: a 1.2 mm sheet with a hat-section waist rail along its middle, the handle the gripper takes it by
RAIL = (0.50, 0.03, 0.035)
rail_m = 7850 * 0.001 * (RAIL[1] + 2*RAIL[2] + 0.02) * RAIL[0]   # 1 mm sheet folded into a hat
sheet_m = 7850 * PANEL_L * PANEL_W * PANEL_T
m, com, I = combine([(sheet_m, (0, 0, PANEL_T/2), box_I(sheet_m, PANEL_L, PANEL_W, PANEL_T)),
                     (rail_m, (0, 0, PANEL_T + RAIL[2]/2), box_I(rail_m, *RAIL))])
PANEL_GREY = ('panel', (0.68, 0.7, 0.74, 1))
s = ['<?xml version="1.0"?>\n<!-- Door inner panel for cellctl: an 800 x 500 mm sheet of 1.2 mm steel (the hinge edge at -x) with a\n'
     '     500 x 30 x 35 mm hat-section waist rail along its middle, by which it is handled. Frame at the centre of the\n'
     f'     bottom face. Mass {m:.2f} kg (the rail hollow: 1 mm sheet). -->\n<robot name="door_inner_panel">\n']
body = inertial(m, com, I) + geom('box', (PANEL_L, PANEL_W, PANEL_T), (0, 0, PANEL_T/2), color=PANEL_GREY)
body += geom('box', RAIL, (0, 0, PANEL_T + RAIL[2]/2), color=PANEL_GREY)
s.append(link('door_inner_panel', body))
finish(s, 'parts/door_inner_panel.urdf')

def hinge_bracket(name, plate, block_x, comment):
    """A hinge reinforcement: a 4 mm steel plate (x, y) with a 20 x 50 x 25 mm hinge block on it at block_x,
    by which the gripper takes it; frame at the centre of the bottom face."""
    block = (0.02, 0.05, 0.025)
    solids = [(7850*plate[0]*plate[1]*0.004, (0, 0, 0.002), box_I(7850*plate[0]*plate[1]*0.004, plate[0], plate[1], 0.004)),
              (7850*block[0]*block[1]*block[2], (block_x, 0, 0.004 + block[2]/2), box_I(7850*block[0]*block[1]*block[2], *block))]
    m, com, I = combine(solids)
    s = [f'<?xml version="1.0"?>\n<!-- {comment}\n     Frame at the centre of the bottom face. Mass {m:.3f} kg (steel). -->\n<robot name="{name}">\n']
    body = inertial(m, com, I) + geom('box', (plate[0], plate[1], 0.004), (0, 0, 0.002), color=RED)
    body += geom('box', block, (block_x, 0, 0.004 + block[2]/2), color=RED)
    s.append(link(name, body))
    finish(s, f'parts/{name}.urdf')

hinge_bracket('hinge_bracket', (0.05, 0.14), 0.0, 'Hinge reinforcement bracket for cellctl (two-bolt hinge): a 50 x 140 x 4 mm steel plate with a\n'
              '     20 x 50 x 25 mm hinge block in its middle; bolt holes 100 mm apart on its centre line.')
hinge_bracket('hinge_bracket_4b', (0.09, 0.16), 0.0, 'Hinge reinforcement bracket for cellctl (four-bolt heavy hinge): a 90 x 160 x 4 mm steel plate with\n'
              '     a 20 x 50 x 25 mm hinge block in its middle; four bolt holes at the corners of a 50 x 110 mm rectangle.')

RISER_H = 0.4
s = ['<?xml version="1.0"?>\n<!-- Robot riser for cellctl: a 400 mm high steel pedestal (260 mm tube on a 400 x 400 x 20 mm foot plate) that\n'
     '     lifts an arm so it reaches down onto 700 mm high work. Frame at the floor; the mounting face at z = 0.4 m. -->\n<robot name="riser">\n']
body = inertial(80.0, (0, 0, RISER_H/2), cyl_I(80.0, 0.13, RISER_H))
body += geom('box', (0.4, 0.4, 0.02), (0, 0, 0.01), color=DARK) + geom('cyl', (0.13, RISER_H - 0.02), (0, 0, 0.02 + (RISER_H - 0.02)/2), color=STEEL)
s.append(link('riser', body))
finish(s, 'fixtures/riser.urdf')
